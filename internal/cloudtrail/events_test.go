package cloudtrail

import (
	"strings"
	"testing"
)

// TestDecodeEvents: keywardenEvents (a reduced query's count of events)
// is read when it is a positive count in range, else left 0.
func TestDecodeEvents(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want int64
	}{
		{`3`, 3}, {`"12"`, 12}, {`1099511627776`, 1 << 40},
		{`0`, 0}, {`-1`, 0}, {`"x"`, 0}, {`1.5`, 0}, {`1099511627777`, 0}, {`99999999999999999999`, 0}, {`null`, 0}, {`{}`, 0},
	} {
		var got []int64
		doc := `{"Records":[{"eventID":"e1","eventTime":"2024-06-03T09:00:00Z","keywardenEvents":` + tc.v + `}]}`
		Decode("t", strings.NewReader(doc), func(r *Record) { got = append(got, r.Events) }, func(ie *InputError) { t.Errorf("%s: %v", tc.v, ie) })
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("keywardenEvents %s: got %v, want %d", tc.v, got, tc.want)
		}
	}
}

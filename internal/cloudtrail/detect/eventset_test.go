package detect

import (
	"fmt"
	"testing"
	"time"
)

func TestEventSet(t *testing.T) {
	at := time.Date(2024, 6, 3, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		limit int
		n     int // distinct events added twice each
		full  bool
	}{
		{"small", 1000, 10, false},
		{"grows past the first table", 1 << 20, 200000, false},
		{"stops remembering at the limit", 10, 5000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEventSet()
			s.limit = tc.limit
			news := 0
			for round := 0; round < 2; round++ {
				for i := 0; i < tc.n; i++ {
					if s.add(fmt.Sprintf("e-%d", i), "GetObject", at) {
						news++
					}
				}
			}
			if s.full.Load() != tc.full {
				t.Errorf("full = %v", s.full.Load())
			}
			if !tc.full && news != tc.n {
				t.Errorf("%d new of %d distinct events added twice", news, tc.n)
			}
			if tc.full && (news <= tc.n || news > 2*tc.n) {
				t.Errorf("%d new past the limit", news)
			}
			// The same ID with another name or time is another event.
			if !s.add("e-0", "PutObject", at) && !tc.full {
				t.Error("another event under a reused ID was taken for a duplicate")
			}
		})
	}
}

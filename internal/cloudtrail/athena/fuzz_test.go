package athena

import (
	"bytes"
	"slices"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

// FuzzAppendRecord: whatever Athena returns in a row (outside input),
// the record built from it is JSON the reader decodes, with the event ID
// intact, or an error; never a panic.
func FuzzAppendRecord(f *testing.F) {
	f.Add("e1", "CreateUser", `{"userName":"bob"}`, "2024-06-01T10:00:00Z", "true")
	f.Add("e\"2\x1b[31m", "", `{"a":[1,{"b":null}]`, "not a time", "")
	f.Add("", "\xff\xfe", `"just a string"`, "", "false")
	f.Fuzz(func(t *testing.T, id, name, params, when, session string) {
		row := make([]*string, len(Columns))
		set := map[string]*string{"eventid": &id, "eventname": &name, "requestparameters": &params, "eventtime": &when, "ui_session": &session}
		for i, c := range Columns {
			row[i] = set[c]
		}
		line, err := AppendRecord(nil, row)
		if err != nil {
			return
		}
		var got []string
		cloudtrail.Decode("fuzz", bytes.NewReader(line), func(r *cloudtrail.Record) { got = append(got, r.EventID) }, func(*cloudtrail.InputError) {})
		if len(got) > 1 {
			t.Fatalf("one row became %d records: %s", len(got), line)
		}
		if len(got) == 1 && string([]rune(id)) != got[0] {
			t.Fatalf("event ID %q came back as %q", id, got[0])
		}
	})
}

// FuzzAppendRecordEvents: a result's count of events (from Athena's
// result, outside input) is refused or comes back as the record's Events
// unchanged, in range.
func FuzzAppendRecordEvents(f *testing.F) {
	for _, s := range []string{"1", "17", "+3", "0", "-1", "1099511627776", "1099511627777", "1e3", "7}, \"x\": {", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, events string) {
		row := make([]*string, len(Columns))
		id, name, when := "e1", "ListBuckets", "2024-06-01T10:00:00Z"
		row[slices.Index(Columns, "eventid")], row[slices.Index(Columns, EventsColumn)] = &id, &events
		row[slices.Index(Columns, "eventname")], row[slices.Index(Columns, "eventtime")] = &name, &when
		line, err := AppendRecord(nil, row)
		if err != nil {
			return
		}
		want, perr := strconv.ParseInt(events, 10, 64)
		if perr != nil || want < 1 || want > 1<<40 {
			t.Fatalf("%q accepted: %s", events, line)
		}
		var got []int64
		cloudtrail.Decode("fuzz", bytes.NewReader(line), func(r *cloudtrail.Record) { got = append(got, r.Events) }, func(*cloudtrail.InputError) {})
		if len(got) != 1 || got[0] != want {
			t.Fatalf("%q came back as %v: %s", events, got, line)
		}
	})
}

// FuzzMatch: a rule file's match block (outside input: --rules) compiles
// to SQL or to an error; never a panic.
func FuzzMatch(f *testing.F) {
	for _, r := range detect.Builtin() {
		if b, err := yaml.Marshal(r.Match); err == nil && len(r.Match) > 0 {
			f.Add(string(b))
		}
	}
	f.Add("any: [{not: {eventName: {regex: '(?i)x'}}}]")
	f.Fuzz(func(t *testing.T, src string) {
		var block map[string]any
		if yaml.Unmarshal([]byte(src), &block) != nil {
			return
		}
		_, _, _ = Match("ct-fuzz", block)
	})
}

package athena

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/goldentest"
)

// schemaRules are a few built-in rules that between them read every kind
// of field the schemas map differently: a plain column, readOnly-free
// derived fields (identity.session, key.kind), a requestParameters path,
// a burst (event time, actor) and the key family.
var schemaRules = []string{"ct-longterm-key-sensitive-api", "ct-iam-self-enumeration", "ct-access-denied-burst", "ct-first-seen-address"}

func pickRules(t *testing.T, ids []string) []*detect.Rule {
	t.Helper()
	var out []*detect.Rule
	for _, r := range detect.Builtin() {
		if slices.Contains(ids, r.ID) {
			out = append(out, r)
		}
	}
	if len(out) != len(ids) {
		t.Fatalf("found %d of the rules %v", len(out), ids)
	}
	return out
}

var schemaWindow = Window{Since: time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC), Until: time.Date(2024, 6, 3, 0, 0, 0, 0, time.UTC),
	Accounts: []string{"111122223333"}, Regions: []string{"eu-west-1"}}

// planSQL is a plan's queries and widenings, as the goldens hold them.
func planSQL(t *testing.T, s *Schema, ids []string) string {
	t.Helper()
	p, err := NewPlanFor(s, pickRules(t, ids), false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range p.Families {
		b.WriteString("-- family " + f.Name + ": " + strings.Join(f.Rules, " ") + "\n")
		b.WriteString(f.SQL(Table{"default", "cloudtrail_logs"}, schemaWindow, time.Time{}) + ";\n\n")
	}
	for _, wd := range p.Widened {
		b.WriteString("-- widened: " + wd.String() + "\n")
	}
	return b.String()
}

// TestLayoutSQL pins what each Athena table layout bounds the scan with
// (testdata/golden/layouts.sql; -update rewrites), and that the rest of
// every query is the keywarden layout's: the layouts share their columns.
func TestLayoutSQL(t *testing.T) {
	base := planSQL(t, nil, schemaRules)
	keyBound := (*Schema)(nil).bound(schemaWindow, time.Time{})
	var b strings.Builder
	for _, l := range Layouts {
		s, err := AthenaSchema(l)
		if err != nil {
			t.Fatal(err)
		}
		bound := s.bound(schemaWindow, time.Time{})
		b.WriteString("-- " + l + "\nWHERE " + bound + "\n\n")
		if got := strings.ReplaceAll(planSQL(t, s, schemaRules), "WHERE "+bound+"\n", "WHERE "+keyBound+"\n"); got != base {
			t.Errorf("%s: the queries differ from the keywarden layout's in more than the bound", l)
		}
	}
	goldentest.Check(t, "layouts.sql", []byte(b.String()))
}

// TestLakeSQL pins the queries on a CloudTrail Lake event data store
// (testdata/golden/lake.sql; -update rewrites).
func TestLakeSQL(t *testing.T) {
	lake, err := LakeSchema("arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE")
	if err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, "lake.sql", []byte(planSQL(t, lake, schemaRules)))
}

// TestKeywardenSchemaIsTheDefault: a nil schema and the keywarden layout
// give the same queries, so NewPlan's callers see no change.
func TestKeywardenSchemaIsTheDefault(t *testing.T) {
	s, err := AthenaSchema(LayoutKeywarden)
	if err != nil {
		t.Fatal(err)
	}
	w := Window{Since: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}
	now := time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC)
	a, err := NewPlan(detect.Builtin(), true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPlanFor(s, detect.Builtin(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Families) != len(b.Families) {
		t.Fatalf("%d families, want %d", len(b.Families), len(a.Families))
	}
	for i := range a.Families {
		if x, y := a.Families[i].SQL(Table{"d", "t"}, w, now), b.Families[i].SQL(Table{"d", "t"}, w, now); x != y {
			t.Errorf("family %s differs with the keywarden schema", a.Families[i].Name)
		}
	}
}

func TestSchemaNames(t *testing.T) {
	cases := []struct {
		name, in string
		lake     bool
		want     string // the store's ID, or the error's text
	}{
		{"layout", LayoutAWSRegionDate, false, ""},
		{"unknown layout", "hive", false, `unknown table layout "hive"`},
		{"lake id", "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE", true, "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"},
		{"lake arn", "arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/abc-123", true, "abc-123"},
		{"lake injection", "abc; DROP", true, "want its ID"},
		{"lake quote", "abc'", true, "want its ID"},
		{"lake empty", "", true, "want its ID"},
		{"lake other arn", "arn:aws:s3:::bucket/eventdatastore/abc", true, "want its ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s *Schema
			var err error
			if tc.lake {
				s, err = LakeSchema(tc.in)
			} else {
				s, err = AthenaSchema(tc.in)
			}
			switch {
			case err != nil && (tc.want == "" || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			case err == nil && tc.lake && s.Store() != tc.want:
				t.Fatalf("store %q, want %q", s.Store(), tc.want)
			case err == nil && !tc.lake && tc.want != "":
				t.Fatalf("no error, want %q", tc.want)
			}
		})
	}
}

// TestBoundsByDate: only the table without partitions cannot bound a
// scan by date.
func TestBoundsByDate(t *testing.T) {
	for _, l := range Layouts {
		s, err := AthenaSchema(l)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.BoundsByDate(), l != LayoutNone; got != want {
			t.Errorf("%s: BoundsByDate %v, want %v", l, got, want)
		}
	}
	lake, _ := LakeSchema("abc")
	if !lake.BoundsByDate() {
		t.Error("lake: eventtime bounds the scan")
	}
}

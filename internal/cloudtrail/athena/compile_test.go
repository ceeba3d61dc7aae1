package athena

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/goldentest"
)

// golden compares got with testdata/name through goldentest (which owns
// the -update flag).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldentest.Check(t, filepath.Join("..", name), []byte(got))
}

// TestWidenedRules is the explicit list of the tests of rules.yaml that
// SQL cannot decide, with why: a rule added with such a test fails here
// until it is reviewed and the list (testdata/widened.golden) updated.
// The same list is in docs/athena.md.
func TestWidenedRules(t *testing.T) {
	p, err := NewPlan(detect.Builtin(), false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, w := range p.Widened {
		b.WriteString(w.String() + "\n")
	}
	golden(t, "widened.golden", b.String())
	if len(p.Unknown) > 0 {
		t.Errorf("rules of kinds the planner does not place (every event is fetched for them): %v", p.Unknown)
	}
}

// TestPlanSQL pins the queries of the built-in rules.
func TestPlanSQL(t *testing.T) {
	p, err := NewPlan(detect.Builtin(), false)
	if err != nil {
		t.Fatal(err)
	}
	w := Window{Since: time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC), Until: time.Date(2024, 6, 3, 0, 0, 0, 0, time.UTC),
		Accounts: []string{"111122223333"}, Regions: []string{"eu-west-1"}}
	var b strings.Builder
	for _, f := range p.Families {
		b.WriteString("-- family " + f.Name + ": " + strings.Join(f.Rules, " ") + "\n")
		b.WriteString(f.SQL(Table{"default", "cloudtrail_logs"}, w, time.Time{}) + ";\n\n")
	}
	golden(t, "plan.sql.golden", b.String())
	if len(p.Families) != 2 {
		t.Errorf("want one query per family (match, key), got %d", len(p.Families))
	}
}

func TestMatchCompiles(t *testing.T) {
	cases := []struct {
		name, block string
		sup         string
		widened     int
	}{
		{"equals", `eventName: StopLogging`, `(COALESCE(eventname, '') <> '' AND COALESCE(eventname, '') IN ('StopLogging'))`, 0},
		{"quote", `userAgent: "it's"`, `(COALESCE(useragent, '') <> '' AND COALESCE(useragent, '') IN ('it''s'))`, 0},
		{"suffix-escapes-like", `userAgent: {suffix: "50%_x"}`, `(COALESCE(useragent, '') <> '' AND (COALESCE(useragent, '') LIKE '%50\%\_x' ESCAPE '\'))`, 0},
		{"raw-unknown-goes-in", `requestParameters.name: x`, `(NOT json_extract_scalar(requestparameters, '$.name') IS NOT NULL OR (TRUE AND json_extract_scalar(requestparameters, '$.name') IN ('x')))`, 0},
		{"not-uses-sub", `not: {requestParameters.name: x}`, `(NOT (json_extract_scalar(requestparameters, '$.name') IS NOT NULL AND (TRUE AND json_extract_scalar(requestparameters, '$.name') IN ('x'))))`, 0},
		{"cidr-widens", `sourceIPAddress: {cidr: [10.0.0.0/8]}`, `TRUE`, 1},
		{"not-cidr-widens", `not: {sourceIPAddress: {cidr: [10.0.0.0/8]}}`, `(NOT FALSE)`, 1},
		{"odd-path", `requestParameters.a-b: x`, `TRUE`, 1},
		{"non-ascii-fold", `userAgent: {iequals: [ÄB]}`, `TRUE`, 1},
		{"lookaround-regex", `userAgent: {regex: "(?i)pacu"}`, `TRUE`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var block map[string]any
			if err := yaml.Unmarshal([]byte(c.block), &block); err != nil {
				t.Fatal(err)
			}
			sup, wd, err := Match("r", block)
			if err != nil {
				t.Fatal(err)
			}
			if sup != c.sup {
				t.Errorf("sup:\n got %s\nwant %s", sup, c.sup)
			}
			if len(wd) != c.widened {
				t.Errorf("widened %v, want %d", wd, c.widened)
			}
		})
	}
}

func TestMatchRejectsBrokenBlocks(t *testing.T) {
	for _, b := range []string{`nope.field: x`, `any: x`, `not: [x]`, `eventName: {regex: "("}`, `eventName: {exists: maybe}`, `eventName: {in: {a: b}}`} {
		var block map[string]any
		if err := yaml.Unmarshal([]byte(b), &block); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Match("r", block); err == nil {
			t.Errorf("%s: no error", b)
		}
	}
}

func TestWindowCheck(t *testing.T) {
	day := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		w  Window
		ok bool
	}{
		{Window{Since: day}, true},
		{Window{}, false},
		{Window{Since: day, Until: day}, false},
		{Window{Since: day, Accounts: []string{"1234"}}, false},
		{Window{Since: day, Accounts: []string{"111122223333"}, Regions: []string{"eu-west-1"}}, true},
		{Window{Since: day, Regions: []string{"eu'; DROP"}}, false},
	} {
		if err := c.w.Check(); (err == nil) != c.ok {
			t.Errorf("%+v: err %v", c.w, err)
		}
	}
	if err := (Table{"db", `x"y`}).Check(); err == nil {
		t.Error("quote in table name accepted")
	}
}

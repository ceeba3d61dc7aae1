package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/report/sariftest"
)

func sample() []report.Finding {
	return []report.Finding{
		{RuleID: "kw-test-high", Severity: report.SeverityHigh, Title: "A high one", Message: "line one\nline two",
			Location: report.Location{Path: "dir/a file.json", Line: 3, Column: 5}, Evidence: "AKIA************MPLE",
			Remediation: "do the thing", Fingerprint: "abc123", Properties: map[string]any{"account": "123456789012"}},
		{RuleID: "kw-test-low", Severity: report.SeverityLow, Title: "A low one", Location: report.Location{Resource: "user/alice"}},
		{RuleID: "kw-test-high", Severity: report.SeverityHigh, Title: "Suppressed", Location: report.Location{Path: "b.txt", Line: 1}, Suppressed: "baseline"},
		{RuleID: "kw-test-inline", Severity: report.SeverityMedium, Title: "Allowed inline", Location: report.Location{Path: "c.txt", Line: 9}, Suppressed: "inline"},
	}
}

func TestSeverity(t *testing.T) {
	for _, n := range []string{"info", "low", "medium", "high", "critical"} {
		s, err := report.ParseSeverity(n)
		if err != nil || s.String() != n {
			t.Errorf("ParseSeverity(%q) = %v, %v", n, s, err)
		}
	}
	if _, err := report.ParseSeverity("severe"); err == nil {
		t.Error("accepted an unknown severity")
	}
	none, _ := report.ParseSeverity("none")
	if report.AtOrAbove(sample(), none) {
		t.Error("--fail-on none fails")
	}
	med, _ := report.ParseSeverity("MEDIUM")
	if !report.AtOrAbove(sample(), med) {
		t.Error("high finding not at or above medium")
	}
	crit, _ := report.ParseSeverity("critical")
	if report.AtOrAbove(sample(), crit) {
		t.Error("no critical finding, yet AtOrAbove(critical)")
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteText(&b, sample(), report.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"dir/a file.json\n", "high [kw-test-high] A high one  3:5", "      line two", "evidence: AKIA************MPLE", "fix: do the thing", "user/alice", "2 findings: 1 high, 1 low (2 suppressed)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Suppressed") || strings.Contains(out, "\x1b[") {
		t.Errorf("suppressed finding or colour in output:\n%s", out)
	}
	b.Reset()
	_ = report.WriteText(&b, sample()[:1], report.TextOptions{Color: true})
	if !strings.Contains(b.String(), "\x1b[31mhigh\x1b[0m") {
		t.Errorf("no colour with Color set: %q", b.String())
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteJSON(&b, report.Tool{Name: "keywarden test", Version: "v0"}, sample(), []string{"x.json: unreadable"}); err != nil {
		t.Fatal(err)
	}
	var doc report.Document
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != 4 || doc.Summary.Total != 2 || doc.Summary.Suppressed != 2 || doc.Summary.BySeverity["high"] != 1 || len(doc.Errors) != 1 {
		t.Fatalf("doc = %+v", doc)
	}
	if doc.Findings[0].Severity != report.SeverityHigh {
		t.Errorf("severity did not round-trip: %v", doc.Findings[0].Severity)
	}
	b.Reset()
	_ = report.WriteJSON(&b, report.Tool{}, nil, nil)
	if !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("empty findings not a list: %s", b.String())
	}
}

func TestWriteSARIF(t *testing.T) {
	var b bytes.Buffer
	rules := []report.Rule{{ID: "kw-test-high", Title: "High", Severity: report.SeverityHigh, Description: "d", References: []string{"https://example.com/r"}}}
	if err := report.WriteSARIF(&b, report.Tool{Name: "keywarden", Version: "v0", InfoURI: "https://github.com/keywarden/keywarden"}, rules, sample()); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleIndex           int               `json:"ruleIndex"`
				Level               string            `json:"level"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Suppressions        []struct{ Kind string }
				Locations           []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != 3 || len(run.Results) != 4 {
		t.Fatalf("rules %d results %d", len(run.Tool.Driver.Rules), len(run.Results))
	}
	r0 := run.Results[0]
	if r0.Level != "error" || r0.PartialFingerprints["keywarden/v1"] != "abc123" || r0.Locations[0].PhysicalLocation.ArtifactLocation.URI != "dir/a%20file.json" {
		t.Errorf("result 0 = %+v", r0)
	}
	if run.Results[1].RuleIndex != 1 || run.Results[2].Suppressions[0].Kind != "external" || run.Results[3].Suppressions[0].Kind != "inSource" {
		t.Errorf("results = %+v", run.Results)
	}
	sariftest.Validate(t, b.Bytes())
}

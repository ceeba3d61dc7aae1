package secretscan

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
)

func TestToFindingRedactsAndFingerprints(t *testing.T) {
	k := newTestKeys(t, 30)
	ms := New(Options{}).Find([]byte(k.fill("aws_access_key_id={ID}\naws_secret_access_key={SECRET}\n")))
	if len(ms) != 1 {
		t.Fatalf("%d matches", len(ms))
	}
	f := ToFinding(ms[0], Origin{Path: "a/creds"}, FindingOptions{})
	all := f.Title + f.Message + f.Evidence + f.Fingerprint + f.Remediation
	for _, v := range f.Properties {
		if s, ok := v.(string); ok {
			all += s
		}
	}
	if strings.Contains(all, k.Secret) || strings.Contains(all, k.ID) {
		t.Fatalf("finding holds the key: %+v", f)
	}
	if f.RuleID != RulePair || f.Severity != report.SeverityCritical || f.Location.Line != 1 || f.Properties["account"] != "123456789012" {
		t.Errorf("finding = %+v", f)
	}
	// The fingerprint follows the secret and the path, not the line.
	moved := New(Options{}).Find([]byte(k.fill("\n\n# x\naws_secret_access_key={SECRET}\naws_access_key_id={ID}\n")))
	if g := ToFinding(moved[0], Origin{Path: "a/creds"}, FindingOptions{}); g.Fingerprint != f.Fingerprint {
		t.Error("fingerprint changed when lines moved")
	}
	if g := ToFinding(ms[0], Origin{Path: "b/creds"}, FindingOptions{}); g.Fingerprint == f.Fingerprint {
		t.Error("fingerprint ignores the path")
	}
	if g := ToFinding(ms[0], Origin{Path: "a/creds"}, FindingOptions{ShowSecrets: true}); !strings.Contains(g.Evidence, k.Secret) {
		t.Error("ShowSecrets does not show the secret")
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	fs := []report.Finding{
		{RuleID: RulePair, Fingerprint: Fingerprint(RulePair, "s1", "p"), Location: report.Location{Path: "p"}, Properties: map[string]any{"key_id": "AKIA************ABCD"}},
		{RuleID: RuleKeyID, Fingerprint: Fingerprint(RuleKeyID, "id", "p"), Suppressed: SuppressedExample},
		{RuleID: RuleKeyID, Fingerprint: Fingerprint(RuleKeyID, "id2", "p"), Suppressed: SuppressedInline},
	}
	data, err := WriteBaseline(fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBaseline("b.json", data)
	if err != nil || b.Len() != 1 {
		t.Fatalf("%v, %d entries:\n%s", err, b.Len(), data)
	}
	again := []report.Finding{{RuleID: RulePair, Fingerprint: fs[0].Fingerprint}, {RuleID: RulePair, Fingerprint: Fingerprint(RulePair, "s2", "p")}}
	if n := b.Apply(again); n != 1 || again[0].Suppressed != SuppressedBaseline || again[1].Suppressed != "" {
		t.Errorf("Apply: %d %+v", n, again)
	}
	for _, bad := range []string{`[]`, `{"version":2,"entries":[]}`, `{"version":1,"entries":[{"fingerprint":"xyz"}]}`, `{"version":1,"entries":[],"extra":1}`} {
		if _, err := ParseBaseline("b.json", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "b.json: ") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

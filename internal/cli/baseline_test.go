package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/mototest"
)

// TestBaselineCheckMoto runs `baseline check` against an empty emulated
// account: every part is missing (exit 1), in JSON and SARIF, and the
// fix for each names the generate command.
func TestBaselineCheckMoto(t *testing.T) {
	srv := mototest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	io_, out, errOut := Test("")
	code := Main(&Factory{IO: io_, Getenv: os.Getenv, Now: time.Now}, []string{"baseline", "check", "--endpoint-url", srv.URL, "--region", "eu-west-1", "--format", "json"})
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var doc struct {
		Findings []struct {
			RuleID      string `json:"rule_id"`
			Remediation string
			Location    struct{ Resource string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	parts := map[string]bool{}
	for _, f := range doc.Findings {
		if f.RuleID == "kw-baseline-missing" {
			parts[f.Location.Resource] = true
			if !strings.Contains(f.Remediation, "keywarden baseline generate --only "+f.Location.Resource) {
				t.Errorf("%s: remediation %q", f.Location.Resource, f.Remediation)
			}
		}
	}
	if len(parts) != 5 {
		t.Errorf("missing parts %v, want all five", parts)
	}
	io_, out, _ = Test("")
	if code := Main(&Factory{IO: io_, Getenv: os.Getenv, Now: time.Now}, []string{"baseline", "check", "--endpoint-url", srv.URL, "--only", "cost", "--format", "sarif", "--fail-on", "none"}); code != ExitClean {
		t.Fatalf("--fail-on none: exit %d", code)
	}
	if !strings.Contains(out.String(), `"ruleId": "kw-baseline-missing"`) {
		t.Errorf("SARIF lacks the finding:\n%s", out)
	}
}

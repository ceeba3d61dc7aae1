package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// A request names one action: a wildcard or a blank in it is a typo or a
// misunderstanding ("simulate every ec2 action"), and evaluating it
// literally would answer a question nobody asked.
func TestPolicySimulateActionMustBeOne(t *testing.T) {
	for _, a := range []string{"ec2:*", "s3:Get*", "s3:Get?bject", "s3:Get Object", ":GetObject", "s3:", "*"} {
		io, _, _ := Test("")
		err := runPolicySimulate(&policySimulateOptions{IO: io, Action: a, Resource: "*", Format: "text"})
		if ExitCode(err) != ExitError || err == nil || !strings.Contains(err.Error(), "--action") {
			t.Errorf("--action %q: exit %d (%v), want a usage error naming --action", a, ExitCode(err), err)
		}
		io, out, _ := Test(`{"action":"` + a + `"}` + "\n")
		if err := runPolicySimulate(&policySimulateOptions{IO: io, Batch: "-", Format: "text"}); ExitCode(err) != ExitError {
			t.Errorf("batch %q: exit %d, want 2", a, ExitCode(err))
		}
		var r struct{ Error string }
		if err := json.Unmarshal(out.Bytes(), &r); err != nil || !strings.Contains(r.Error, "action") {
			t.Errorf("batch %q: %q, want an error line about the action", a, out)
		}
	}
	io, _, _ := Test("")
	if err := runPolicySimulate(&policySimulateOptions{IO: io, Action: "s3:GetObject", Resource: "*", Format: "text"}); ExitCode(err) != ExitFindings {
		t.Errorf("s3:GetObject: exit %d, want 1 (%v)", ExitCode(err), err)
	}
}

// An action the built-in catalogue does not know is simulated (the
// catalogue may lag AWS) but warned about, with the closest known action;
// a known one is not.
func TestPolicySimulateUnknownAction(t *testing.T) {
	const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	tests := []struct {
		action, want string // want: the warning, "" for none
	}{
		{"s3:GetObjectt", `"s3:GetObjectt" is not an action of s3 (did you mean s3:GetObject?)`},
		{"ec2:RunInstancez", `"ec2:RunInstancez" is not an action of ec2 (did you mean ec2:RunInstances?)`},
		{"newsvc:DoThing", `"newsvc:DoThing": the service prefix "newsvc" is not in keywarden's action catalogue`},
		{"S3:getobject", ""},
	}
	for _, tt := range tests {
		// One request, text and JSON.
		for _, format := range []string{"text", "json"} {
			ios, out, errOut := Test(allowAll)
			code := Main(&Factory{IO: ios}, []string{"policy", "simulate", "--format", format, "--action", tt.action, "--identity-policy", "-"})
			if code != ExitClean {
				t.Errorf("%s %s: exit %d\n%s%s", format, tt.action, code, out, errOut)
			}
			if tt.want == "" && errOut.Len() > 0 || tt.want != "" && !strings.Contains(errOut.String(), "warning: --action "+tt.want) {
				t.Errorf("%s %s: stderr %q, want %q", format, tt.action, errOut, tt.want)
			}
			if format == "json" && tt.want != "" && !strings.Contains(out.String(), strings.ReplaceAll(tt.want, `"`, `\"`)) {
				t.Errorf("%s: JSON warnings lack it:\n%s", tt.action, out)
			}
		}
		// A batch line.
		ios, out, _ := Test(`{"action":"` + tt.action + `","identityPolicies":[` + allowAll + `]}` + "\n")
		if code := Main(&Factory{IO: ios}, []string{"policy", "simulate", "--batch", "-"}); code != ExitClean {
			t.Errorf("batch %s: exit %d\n%s", tt.action, code, out)
		}
		var r struct{ Warnings []string }
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if tt.want == "" && len(r.Warnings) > 0 || tt.want != "" && (len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], tt.want)) {
			t.Errorf("batch %s: warnings %q, want %q", tt.action, r.Warnings, tt.want)
		}
	}
}

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

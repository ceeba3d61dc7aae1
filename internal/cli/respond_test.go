package cli

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/respond"
)

// Steps that reach beyond the key (a deny on a shared role) run only when
// confirmed: --yes, or "y" typed at a terminal. Without a terminal and
// without --yes they are declined, and the reason is said.
func TestRespondConfirm(t *testing.T) {
	step := &respond.Step{Kind: "revoke-role-sessions", Why: "end the sessions of role ops",
		Call: respond.Call{Action: "iam:PutRolePolicy", Params: []respond.Param{{Name: "RoleName", Value: "ops"}}}}
	tests := []struct {
		name   string
		yes    bool
		tty    bool
		in     string
		want   bool
		saying string
	}{
		{"--yes", true, false, "", true, ""},
		{"no terminal", false, false, "y\n", false, "needs confirmation (stdin is not a terminal; pass --yes)"},
		{"typed y", false, true, "y\n", true, "Proceed? [y/N]"},
		{"typed yes", false, true, "YES\n", true, "aws iam put-role-policy --role-name ops"},
		{"enter", false, true, "\n", false, "Proceed?"},
		{"end of input", false, true, "", false, "Proceed?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			io, _, errOut := Test(tc.in)
			io.SetTTY(tc.tty, false, false)
			opts := &respondOptions{IO: io, Yes: tc.yes}
			if got := opts.confirm(step); got != tc.want {
				t.Errorf("confirm = %v, want %v", got, tc.want)
			}
			if !strings.Contains(errOut.String(), tc.saying) {
				t.Errorf("stderr %q lacks %q", errOut, tc.saying)
			}
		})
	}
}

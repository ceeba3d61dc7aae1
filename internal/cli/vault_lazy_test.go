package cli

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// exec --lazy with a server calls STS only when the command asks for
// credentials; without --lazy, before the command starts.
func TestVaultExecLazy(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the child is a shell script")
	}
	h, stsSrv, _ := vaultSTSHarness(t, func(string) string { return "[profile plain]\nregion = eu-west-1\n" })
	if _, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "plain", "--stdin", "--no-verify"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	quiet := `test -n "$AWS_CONTAINER_CREDENTIALS_FULL_URI" && test -z "$AWS_ACCESS_KEY_ID" && test "$AWS_REGION" = eu-west-1`
	for _, tc := range []struct {
		args  []string
		calls int
	}{
		{[]string{"exec", "plain", "--server", "--lazy", "--", "sh", "-c", quiet}, 0},
		{[]string{"exec", "plain", "--ec2-server", "--lazy", "--", "sh", "-c", `test -n "$AWS_EC2_METADATA_SERVICE_ENDPOINT"`}, 0},
		{[]string{"exec", "plain", "--server", "--", "sh", "-c", quiet}, 1},
	} {
		before := stsSrv.Count("GetSessionToken")
		if _, errOut, code := h.run("", tc.args...); code != 0 {
			t.Fatalf("%v: %d %s", tc.args, code, errOut)
		}
		if n := stsSrv.Count("GetSessionToken") - before; n != tc.calls {
			t.Errorf("%v: %d GetSessionToken calls, want %d", tc.args, n, tc.calls)
		}
	}
	if _, err := exec.LookPath("curl"); err == nil {
		// The first request gets the session.
		fetch := `curl -sf -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI" | grep -q '"AccessKeyId":"ASIA'`
		h.run("", "clear")
		before := stsSrv.Count("GetSessionToken")
		if _, errOut, code := h.run("", "exec", "plain", "--server", "--lazy", "--", "sh", "-c", fetch); code != 0 {
			t.Fatalf("lazy fetch: %d %s", code, errOut)
		}
		if n := stsSrv.Count("GetSessionToken") - before; n != 1 {
			t.Errorf("lazy fetch: %d GetSessionToken calls, want 1", n)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "plain", "--lazy", "--", "true"}, "--lazy needs --server or --ec2-server"},
		{[]string{"exec", "plain", "--server", "--lazy", "--no-session", "--", "true"}, "--lazy and --no-session do not go together"},
		{[]string{"exec", "nonesuch", "--server", "--lazy", "--", "true"}, "nonesuch"},
	} {
		if _, errOut, code := h.run("", tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s, want %q", tc.args, code, errOut, tc.want)
		}
	}
}

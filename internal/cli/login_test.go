package cli

import (
	"net/url"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// login --stdout prints a URL whose sign-in token the fake federation
// endpoint issued for the profile's session.
func TestLoginStdout(t *testing.T) {
	h, stsSrv, user := vaultSTSHarness(t, func(serial string) string {
		return "[profile work]\nmfa_serial = " + serial + "\nregion = eu-central-1\n" +
			"[profile ops]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Ops\n"
	})
	h.env["KEYWARDEN_FEDERATION_URL"] = stsSrv.URL + "/federation"
	if _, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work", "--stdin", "--no-verify"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	for _, tc := range []struct {
		args      []string
		dest      string
		federated bool
		duration  int
		stderr    string
	}{
		{args: []string{"login", "ops", "--stdout", "--mfa-token", ststest.Code(t, user.MFASecret, h.now), "--path", "/s3/home", "--region", "eu-west-1", "--duration", "2h"},
			dest: "https://console.aws.amazon.com/s3/home?region=eu-west-1", duration: 7200},
		{args: []string{"login", "work", "--stdout"}, dest: "https://console.aws.amazon.com/console/home", federated: true,
			stderr: "has the user's permissions WITHOUT MFA"},
	} {
		u, out := loginStdout(t, h, tc.args, tc.stderr)
		q := u.Query()
		ss, ok := stsSrv.SigninToken(q.Get("SigninToken"))
		if !ok || ss.Federated != tc.federated || ss.Duration != tc.duration || q.Get("Destination") != tc.dest || q.Get("Action") != "login" ||
			u.Scheme+"://"+u.Host+u.Path != stsSrv.URL+"/federation" {
			t.Errorf("%v: URL %s stands for %+v %v", tc.args, out, ss, ok)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"login", "ops", "--stdout", "--duration", "13h"}, "a console session lasts 15m0s to 12h0m0s"},
		{[]string{"login", "ops", "--stdout", "--path", "s3"}, "must be a console path"},
		{[]string{"login"}, "expected one PROFILE argument"},
	} {
		if _, errOut, code := h.run("", tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s, want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// loginStdout runs login --stdout, which must succeed and say stderr, and
// returns the URL it printed.
func loginStdout(t *testing.T, h *vaultHarness, args []string, stderr string) (*url.URL, string) {
	t.Helper()
	out, errOut, code := h.run("", args...)
	if code != 0 || !strings.Contains(errOut, stderr) {
		t.Fatalf("%v: %d %s%s", args, code, out, errOut)
	}
	u, err := url.Parse(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	return u, out
}

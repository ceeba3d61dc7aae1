package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/policylint"
	"github.com/keywarden/keywarden/internal/report"
)

func TestPolicyMFAFormats(t *testing.T) {
	for _, format := range []string{"json", "terraform", "tf", "cloudformation", "cfn"} {
		ios, out, errOut := Test("")
		code := Main(&Factory{IO: ios}, []string{"policy", "mfa", "--group", "ec2Admins", "--grant", "ec2:*",
			"--allow-cidr", "203.0.113.0/24,2001:db8::/32", "--format", format})
		if code != ExitClean {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		name := "out.json"
		switch format {
		case "terraform", "tf":
			name = "out.tf"
			if !strings.Contains(out.String(), `resource "aws_iam_group" "ec2Admins"`) {
				t.Errorf("%s: no group:\n%s", format, out)
			}
		case "cloudformation", "cfn":
			if !strings.Contains(out.String(), "AWS::IAM::ManagedPolicy") {
				t.Errorf("%s: no managed policy:\n%s", format, out)
			}
			continue
		}
		fs, err := policylint.LintFile(name, out.Bytes())
		if err != nil || report.AtOrAbove(fs, report.SeverityLow) {
			t.Errorf("%s: output does not lint clean: %v %+v", format, err, fs)
		}
		if errOut.Len() != 0 {
			t.Errorf("%s: stderr %q", format, errOut)
		}
	}
}

func TestPolicyMFAMessages(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--allow-cidr", "10.0.0.0/8"}, ExitError, "aws:SourceIp only ever holds the public address"},
		{[]string{"--allow-cidr", "203.0.113.0/24"}, ExitClean, "warning: the network allowlist is IPv4 only"},
		{[]string{"--grant-managed", "arn:aws:iam::aws:policy/ReadOnlyAccess"}, ExitClean, "attach arn:aws:iam::aws:policy/ReadOnlyAccess to group mfa-required yourself"},
		{[]string{"--format", "xml"}, ExitError, `unknown format "xml"`},
		{[]string{"--grant", "ec2:RunInstancez"}, ExitClean, `warning: --grant "ec2:RunInstancez" is not an action of ec2 (did you mean ec2:RunInstances?)`},
		{[]string{"--grant", "ec22:*"}, ExitClean, `warning: --grant "ec22:*": the service prefix "ec22" is not in keywarden's action catalogue`},
		{[]string{"--called-via", "kms.amazonaws.com"}, ExitError, "--called-via needs --service-exception called-via"},
		{[]string{"--service-exception", "called-via"}, ExitError, "only matters with --allow-cidr"},
		{[]string{"--max-session-age", "banana"}, ExitError, "invalid argument"},
		{[]string{"extra"}, ExitError, "unknown command"},
	}
	for _, tt := range tests {
		ios, _, errOut := Test("")
		code := Main(&Factory{IO: ios}, append([]string{"policy", "mfa"}, tt.args...))
		if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.stderr)
		}
	}
}

func TestPolicyMFAOutputFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mfa.json")
	ios, out, _ := Test("")
	if code := Main(&Factory{IO: ios}, []string{"policy", "mfa", "-o", path}); code != ExitClean {
		t.Fatalf("exit %d", code)
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q", out)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", st, err)
	}
	data, _ := os.ReadFile(path)
	if p, err := iampolicy.Parse(path, data); err != nil || len(p.Problems) != 0 {
		t.Fatalf("%v %+v", err, p)
	}
}

package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/report/sariftest"
)

const (
	policyLintGood  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`
	policyLintBool  = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:ResyncMFADevice","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:GetUser","iam:ChangePassword","sts:GetSessionToken"],"Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	policyLintIPv4  = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"},"BoolIfExists":{"aws:ViaAWSService":"false"},"StringNotEqualsIfExists":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}`
	policyLintComma = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"},\n  ]\n}\n"
)

func policyLintFiles(t *testing.T) string {
	dir := t.TempDir()
	for name, body := range map[string]string{"good.json": policyLintGood, "bool.json": policyLintBool, "ipv4.json": policyLintIPv4, "comma.json": policyLintComma} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func policyLintRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := Test(stdin)
	code := Main(&Factory{IO: ios}, append([]string{"policy", "lint"}, args...))
	return code, out.String(), errOut.String()
}

func TestPolicyLintExitCodes(t *testing.T) {
	dir := policyLintFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		args []string
		code int
	}{
		{[]string{p("good.json")}, ExitClean},
		{[]string{p("bool.json")}, ExitFindings},
		{[]string{p("ipv4.json")}, ExitClean},                        // low < medium
		{[]string{"--fail-on", "low", p("ipv4.json")}, ExitFindings}, // low >= low
		{[]string{"--fail-on", "none", p("bool.json")}, ExitClean},
		{[]string{p("comma.json"), p("bool.json")}, ExitError},
		{[]string{p("missing.json")}, ExitError},
		{[]string{"--fail-on", "severe", p("good.json")}, ExitError},
		{[]string{"--format", "xml", p("good.json")}, ExitError},
	}
	for _, tt := range tests {
		if code, out, errOut := policyLintRun(t, "", tt.args...); code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tt.args, code, tt.code, out, errOut)
		}
	}
}

// A malformed file names file, line and column, and the other files are
// still linted and reported.
func TestPolicyLintMalformedStillReportsOthers(t *testing.T) {
	dir := policyLintFiles(t)
	code, out, errOut := policyLintRun(t, "", "--format", "json", filepath.Join(dir, "comma.json"), filepath.Join(dir, "bool.json"))
	if code != ExitError {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut, "comma.json:5:3: trailing comma before ']'") {
		t.Errorf("stderr = %q", errOut)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, f := range doc.Findings {
		rules[f.RuleID] = true
	}
	if !rules["kw-mfa-deny-bool"] || !rules["kw-policy-syntax"] || len(doc.Errors) != 1 {
		t.Errorf("findings %v errors %v", rules, doc.Errors)
	}
}

func TestPolicyLintStdinAndDirectory(t *testing.T) {
	code, out, _ := policyLintRun(t, policyLintBool, "-")
	if code != ExitFindings || !strings.Contains(out, "<stdin>") || !strings.Contains(out, "kw-mfa-deny-bool") {
		t.Errorf("stdin: exit %d\n%s", code, out)
	}
	// No argument and stdin not a terminal: stdin.
	if code, _, _ := policyLintRun(t, policyLintGood); code != ExitClean {
		t.Errorf("implicit stdin: exit %d", code)
	}
	dir := policyLintFiles(t)
	os.Remove(filepath.Join(dir, "comma.json"))
	os.Mkdir(filepath.Join(dir, ".terraform"), 0o700)
	os.WriteFile(filepath.Join(dir, ".terraform", "x.json"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name": "x", "version": "1.0.0"}`), 0o600)
	code, out, errOut := policyLintRun(t, "", dir)
	if code != ExitFindings || !strings.Contains(out, "bool.json") || errOut != "" {
		t.Errorf("directory: exit %d\n%s%s", code, out, errOut)
	}
}

func TestPolicyLintSARIF(t *testing.T) {
	dir := policyLintFiles(t)
	_, out, _ := policyLintRun(t, "", "--format", "sarif", filepath.Join(dir, "bool.json"), filepath.Join(dir, "ipv4.json"), filepath.Join(dir, "comma.json"))
	sariftest.Validate(t, []byte(out))
	if !strings.Contains(out, `"ruleId": "kw-mfa-deny-bool"`) {
		t.Errorf("no result:\n%s", out)
	}
}

func TestPolicyLintListRules(t *testing.T) {
	code, out, _ := policyLintRun(t, "", "--list-rules")
	if code != ExitClean || !strings.Contains(out, "kw-allow-star") || !strings.Contains(out, "critical") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// Inputs are limited to iampolicy.MaxDocumentSize: a larger one is an
// input error that names the file, and the other inputs are still linted.
func TestPolicyLintSizeLimit(t *testing.T) {
	dir := policyLintFiles(t)
	big := filepath.Join(dir, "big.json")
	data := append([]byte(`{"Version":"2012-10-17","Statement":[`), bytes.Repeat([]byte(" "), 1<<20)...)
	if err := os.WriteFile(big, append(data, []byte(`]}`)...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := policyLintRun(t, "", big, filepath.Join(dir, "bool.json"))
	if code != ExitError || !strings.Contains(errOut, "big.json: larger than the 1048576-byte limit") || !strings.Contains(out, "kw-mfa-deny-bool") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// An input that could not be read is never hidden behind "no findings":
// the text summary says how many inputs failed, and the exit is 2.
func TestPolicyLintFailedInputIsNotClean(t *testing.T) {
	dir := policyLintFiles(t)
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), 1<<20+1), 0o600); err != nil {
		t.Fatal(err)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		args []string
		want string // the last line of stdout
	}{
		{[]string{big}, "1 of 1 inputs could not be linted"},
		{[]string{big, p("good.json")}, "no findings in the other 1; 1 of 2 inputs could not be linted"},
		{[]string{p("missing.json"), p("good.json"), p("good.json")}, "no findings in the other 2; 1 of 3 inputs could not be linted"},
		{[]string{p("missing.json"), p("ipv4.json")}, "1 of 2 inputs could not be linted"}, // below --fail-on, still shown
		{[]string{big, p("bool.json")}, "1 of 2 inputs could not be linted"},
		{[]string{p("comma.json"), p("good.json")}, "1 of 2 inputs could not be linted"},
	}
	for _, tt := range tests {
		code, out, errOut := policyLintRun(t, "", tt.args...)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if code != ExitError || lines[len(lines)-1] != tt.want || strings.Contains(out, "no findings\n") {
			t.Errorf("%v: exit %d, stdout:\n%s\nwant last line %q\nstderr:\n%s", tt.args, code, out, tt.want, errOut)
		}
		_, unread, ok := strings.Cut(tt.want, "; ")
		if !ok {
			unread = tt.want
		}
		if !strings.Contains(errOut, "keywarden: "+unread+"\n") {
			t.Errorf("%v: stderr %q", tt.args, errOut)
		}
	}
}

// Names and values read from the input (file names, Sids, CloudFormation
// logical IDs, Terraform names) reach the terminal with their control
// characters replaced: ESC, BEL and the C1 CSI (U+009B) never get through.
func TestPolicyLintControlCharacters(t *testing.T) {
	dir := t.TempDir()
	const bad = "x\x1b[2J\x07\u009by"
	files := map[string]string{
		// The file name itself.
		"name" + bad + ".json": policyLintBool,
		// A Sid, and a value quoted in the message and evidence.
		"sid.json": `{"Version":"2012-10-17","Statement":[{"Sid":"A\u001b[31mB\u0007C\u009bD","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"fa\u001b]0;x\u0007lse"}}}]}`,
		// A CloudFormation logical ID.
		"cfn.yaml": "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n  \"Role\\e[2J\\a\\x9bX\":\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyDocument:\n        Version: \"2012-10-17\"\n        Statement:\n          - Effect: Allow\n            Action: \"*\"\n            Resource: \"*\"\n",
		// A malformed file's name, in the finding and on stderr, and a
		// YAML error that quotes the input.
		"broken" + bad + ".json": "{\"Statement\": [}",
		"broken.yaml":            "AWSTemplateFormatVersion: x\nResources:\n  \"a\\e[2J\": [\n  PolicyDocument: \x1b[31m\u009b\n",
		// A Terraform block name.
		"main.tf": "data \"aws_iam_policy_document\" \"p\\u001b[2J\\u0007\\u009bq\" {\n  statement {\n    actions   = [\"*\"]\n    resources = [\"*\"]\n  }\n}\n",
	}
	var args []string
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	code, out, errOut := policyLintRun(t, "", args...)
	if code != ExitError {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"name", "broken", "Sid A?[31mB?C?D", "Role?[2J??X", "p?[2J??q", `"fa\x1b]0;x\alse"`} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for stream, s := range map[string]string{"stdout": out, "stderr": errOut} {
		for _, c := range []string{"\x1b", "\x07", "\u009b"} {
			if strings.Contains(s, c) {
				t.Errorf("%s holds %q:\n%q", stream, c, s)
			}
		}
	}
}

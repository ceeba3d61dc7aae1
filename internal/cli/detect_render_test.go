package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/report"
)

// Tools append their marks to the SDK's user agent (Terraform puts
// "HashiCorp-terraform-exec" last, Stratus Red Team its
// "stratus-red-team_<uuid>" before it), so the part that explains an
// offensive-tool finding is often past the first 160 characters: the text
// output must keep the end of each agent, not just the joined start.
func TestDetectTextKeepsUserAgentTail(t *testing.T) {
	ua := "APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/3.76.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.44.157 (go1.19.3; linux; amd64) stratus-red-team_0362e208-cc47-4ba7-9c39-195518d6e937 HashiCorp-terraform-exec/0.17.3"
	rec := strings.Replace(detectTestStop, `"userAgent":"aws-cli/2.15.30"`, `"userAgent":"`+ua+`"`, 1)
	path := filepath.Join(t.TempDir(), "trail.json")
	if err := os.WriteFile(path, []byte(rec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ios, out, errOut := Test("")
	err := runDetect(context.Background(), &detectOptions{IO: ios, Now: time.Now, Sources: []string{path},
		NoState: true, Format: "text", FailOn: "none"})
	if err != nil {
		t.Fatalf("%v; stderr %s", err, errOut)
	}
	if !strings.Contains(out.String(), "[ct-offensive-user-agent]") {
		t.Fatalf("offensive user agent not reported:\n%s", out)
	}
	n := 0
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "user agent:") {
			n++
			if !strings.Contains(line, "APN/1.0 HashiCorp") || !strings.Contains(line, "stratus-red-team_0362e208") {
				t.Errorf("user agent line hides the tool: %q", line)
			}
			if len(line) > 200 {
				t.Errorf("user agent line not shortened (%d bytes): %q", len(line), line)
			}
		}
	}
	if n == 0 {
		t.Errorf("no user agent line:\n%s", out)
	}
}

func TestDetectAgents(t *testing.T) {
	long := strings.Repeat("a", 63) + "é" + strings.Repeat("x", 100) + "é" + strings.Repeat("b", 90)
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"aws-cli/2.15.30"}, "aws-cli/2.15.30"},
		{[]string{"aws-cli/2.15.30", "boto3/1.34"}, "aws-cli/2.15.30 | boto3/1.34"},
		{[]string{"a", "b", "c", "d", "e"}, "a | b | c (+2 more)"},
		{[]string{long}, strings.Repeat("a", 63) + " ... " + strings.Repeat("b", 90)},
	} {
		if got := detectAgents(tc.in); got != tc.want {
			t.Errorf("detectAgents(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every field of a record that a finding prints (event name, user agent,
// source address, region, event id, ARN, account, key, evidence) and every
// file name in a message can carry terminal controls. None may reach the
// output raw, in any format: text and stderr replace them, JSON and SARIF
// escape them (C1 included: encoding/json writes U+009B raw), CSV
// replaces them.
func TestDetectHostileFields(t *testing.T) {
	const h = "x\x1b[31m\u009b2J\x07\x7f\u0085y"
	rec := func(fields map[string]any) string {
		r := map[string]any{
			"eventVersion": "1.09", "eventTime": "2024-06-03T14:02:00Z", "eventSource": "iam.amazonaws.com" + h,
			"awsRegion": "eu-west-1" + h, "sourceIPAddress": "203.0.113." + h, "eventID": "e-" + h,
			"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/" + h,
				"accountId": "111122223333" + h, "accessKeyId": "AKIARTX3GSDS2RWA" + h, "userName": "alice"},
		}
		for k, v := range fields {
			r[k] = v
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dir := t.TempDir()
	logs := rec(map[string]any{"eventName": "List" + h, "userAgent": "pacu/1.0 " + h}) + "\n" +
		rec(map[string]any{"eventName": "CreateAccessKey", "userAgent": "aws-cli/2 " + h, "requestParameters": map[string]any{"userName": "bob" + h}}) + "\n"
	files := map[string]string{"trail.json": logs, "bad" + h + ".json": "{\"Records\":[{x}]}", "empty" + h + ".json": "[]"}
	var paths []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, format := range []string{"text", "json", "csv", "sarif"} {
		ios, out, errOut := Test("")
		err := runDetect(context.Background(), &detectOptions{IO: ios, Now: time.Now, Sources: paths, NoState: true, Format: format, FailOn: "none"})
		if ExitCode(err) != ExitError {
			t.Errorf("%s: exit %d (%v), want 2 (one input is malformed)", format, ExitCode(err), err)
		}
		if !strings.Contains(out.String(), "ct-offensive-user-agent") || !strings.Contains(out.String(), "ct-iam-access-key-other-user") {
			t.Errorf("%s: findings missing:\n%s", format, out)
		}
		for stream, s := range map[string]string{"stdout": out.String(), "stderr": errOut.String()} {
			for i, r := range s {
				if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					t.Errorf("%s %s: control %U at byte %d: %q", format, stream, r, i, s[max(0, i-40):min(len(s), i+40)])
					break
				}
			}
		}
		if (format == "json" || format == "sarif") && !strings.Contains(out.String(), `\u009b`) {
			t.Errorf("%s: U+009B not escaped as \\u009b:\n%s", format, out)
		}
	}
	// Usage errors that quote a path, a URL or a file's content: Main
	// prints their message as is.
	bad := filepath.Join(dir, "bad"+h+".json")
	for name, opts := range map[string]*detectOptions{
		"missing ignore file": {IgnoreFile: filepath.Join(dir, "no"+h+".yaml")},
		"malformed ignore":    {IgnoreFile: bad},
		"missing rules file":  {RulesFile: filepath.Join(dir, "no"+h+".yaml")},
		"malformed rules":     {RulesFile: bad},
		"bad s3 URL":          {Sources: []string{"s3://" + h}},
	} {
		ios, _, _ := Test("")
		opts.IO, opts.Now, opts.NoState, opts.Format, opts.FailOn = ios, time.Now, true, "text", "none"
		if opts.Sources == nil {
			opts.Sources = paths
		}
		err := runDetect(context.Background(), opts)
		if err == nil || ExitCode(err) != ExitError {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\x1b\x07\x7f\u009b\u0085") {
			t.Errorf("%s: controls in %q", name, msg)
		}
	}
}

func TestDetectJSONControls(t *testing.T) {
	for in, want := range map[string]string{
		`"plain é ü"`:               `"plain é ü"`,
		"\"csi \u009b nel \u0085\"": `"csi \u009b nel \u0085"`,
		"\"del \x7f\"":              `"del \u007f"`,
		"\"nbsp \u00a0 \u00c2\"":    "\"nbsp \u00a0 \u00c2\"",
	} {
		if got := string(report.EscapeJSON([]byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

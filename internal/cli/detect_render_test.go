package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

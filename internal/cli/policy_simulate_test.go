package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicySimulateSingle(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.json")
	if err := os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		principal, resource string
		code                int
		want                string
	}{
		{"arn:aws:iam::111122223333:user/alice", "arn:aws:s3:::home/alice/k", ExitClean, `"decision": "Allowed"`},
		{"arn:aws:iam::111122223333:user/bob", "arn:aws:s3:::home/alice/k", ExitFindings, `"decision": "ImplicitlyDenied"`},
	}
	for _, tc := range cases {
		io, out, _ := Test("")
		err := runPolicySimulate(&policySimulateOptions{IO: io, Action: "s3:GetObject", Resource: tc.resource, Principal: tc.principal, Identity: []string{pol}, Format: "json"})
		if got := ExitCode(err); got != tc.code {
			t.Errorf("%s: exit %d, want %d (%v)", tc.principal, got, tc.code, err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: output lacks %s:\n%s", tc.principal, tc.want, out)
		}
	}
}

func TestPolicySimulateBatchLimits(t *testing.T) {
	good := `{"action":"s3:GetObject","principal":"arn:aws:iam::111122223333:user/alice","identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}]}`
	long := `{"action":"s3:GetObject","resource":"` + strings.Repeat("x", 5000) + `"}`
	in := good + "\n" + long + "\n" + `{"action":"s3:GetObject","unknownField":1}` + "\n" + `{"action":"nocolon"}` + "\n" + good // no final newline
	io, out, _ := Test(in)
	err := runPolicySimulate(&policySimulateOptions{IO: io, Batch: "-", Format: "text", maxLine: 1024})
	if ExitCode(err) != ExitError {
		t.Errorf("exit %d, want 2 (%v)", ExitCode(err), err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d output lines, want 5:\n%s", len(lines), out)
	}
	wantErr := []string{"", "longer than the 1024-byte limit", "unknown field", "service:Action", ""}
	for i, l := range lines {
		var r struct {
			Line     int    `json:"line"`
			Decision string `json:"decision"`
			Error    string `json:"error"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if r.Line != i+1 {
			t.Errorf("output %d names line %d", i+1, r.Line)
		}
		if wantErr[i] == "" {
			if r.Decision != "Allowed" || r.Error != "" {
				t.Errorf("line %d: %+v", i+1, r)
			}
		} else if !strings.Contains(r.Error, wantErr[i]) || r.Decision != "" {
			t.Errorf("line %d: error %q, want %q", i+1, r.Error, wantErr[i])
		}
	}
}

// FuzzPolicySimulateBatchLine feeds hostile request lines to the --batch
// reader: it must never panic, and every line gets exactly a decision or
// an error.
func FuzzPolicySimulateBatchLine(f *testing.F) {
	f.Add([]byte(`{"action":"s3:GetObject","resource":"arn:aws:s3:::b/k","principal":"arn:aws:iam::111122223333:user/alice","context":{"aws:TagKeys":["a"],"n":1,"b":true},"identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}],"scps":[[{"Statement":[]}]],"resourcePolicy":{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"*"}}}`))
	f.Add([]byte(`{"action":"kms:Decrypt","sessionPolicy":{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}},"vpcEndpointPolicy":null,"rcps":[[]]}`))
	f.Add([]byte(`{"action":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		out := policySimulateOne(7, line, true)
		if out.Line != 7 {
			t.Fatalf("line %d", out.Line)
		}
		if (out.Error == "") == (out.Decision == "") {
			t.Fatalf("decision %q and error %q", out.Decision, out.Error)
		}
	})
}

// Policies nested 100,000 levels deep, wherever simulate reads one (a file
// for any policy flag, a batch line's policies and context), are refused
// with an error naming where: never a stack overflow.
func TestPolicySimulateDeepJSON(t *testing.T) {
	const deep = 100_000
	arrays := strings.Repeat("[", deep) + strings.Repeat("]", deep)
	objects := strings.Repeat(`{"a":`, deep) + "1" + strings.Repeat("}", deep)
	dir := t.TempDir()
	for name, body := range map[string]string{"arrays.json": `{"Version":"2012-10-17","Statement":` + arrays + `}`, "objects.json": `{"Statement":` + objects + `}`} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, flag := range []string{"--identity-policy", "--resource-policy", "--boundary", "--scp", "--session-policy", "--vpc-endpoint-policy"} {
			ios, out, errOut := Test("")
			code := Main(&Factory{IO: ios}, []string{"policy", "simulate", "--action", "s3:GetObject", flag, path})
			if code != ExitError || !strings.Contains(errOut.String(), name+":1:") || !strings.Contains(errOut.String(), "nested more than") {
				t.Errorf("%s %s: exit %d\n%s%s", flag, name, code, out, errOut)
			}
		}
	}
	for _, line := range []string{
		`{"action":"s3:GetObject","identityPolicies":[` + arrays + `]}`,
		`{"action":"s3:GetObject","identityPolicies":[{"Statement":` + objects + `}]}`,
		`{"action":"s3:GetObject","context":{"aws:SourceIp":` + arrays + `}}`,
	} {
		ios, out, _ := Test(line + "\n")
		code := Main(&Factory{IO: ios}, []string{"policy", "simulate", "--batch", "-"})
		var r struct{ Error string }
		if err := json.Unmarshal(out.Bytes(), &r); code != ExitError || err != nil || !strings.Contains(r.Error, "line 1:") || !strings.Contains(r.Error, "depth") {
			t.Errorf("batch line %.60s...: exit %d, %q", line, code, out)
		}
	}
}

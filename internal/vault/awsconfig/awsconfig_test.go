package awsconfig

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awsini"
)

const sample = `# my config
[default]
region = eu-west-1

[profile work]
region=us-east-1
mfa_serial = arn:aws:iam::111122223333:mfa/alice  # my phone
mfa_process = otp-cli work

[profile admin]
role_arn = arn:aws:iam::444455556666:role/Admin
source_profile = work
external_id = xyz
role_session_name = alice
duration_seconds = 28800
s3 =
  max_concurrent_requests = 20

[sso-session corp]
sso_region = us-east-1

[profile bad]
credential_process = /bin/true
source_profile = work
`

func TestParse(t *testing.T) {
	c, err := Parse("config", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Profiles["default"].Region; got != "eu-west-1" {
		t.Errorf("default region %q", got)
	}
	w := c.Profiles["work"]
	if w.MFASerial != "arn:aws:iam::111122223333:mfa/alice" || w.MFAProcess != "otp-cli work" || w.Region != "us-east-1" {
		t.Errorf("work = %+v", w)
	}
	r, err := c.Resolve("admin")
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyProfile != "work" || r.RoleARN != "arn:aws:iam::444455556666:role/Admin" || r.ExternalID != "xyz" ||
		r.RoleSessionName != "alice" || r.Duration != 8*time.Hour || r.MFASerial != w.MFASerial || r.Region != "us-east-1" || r.MFAProcess != "otp-cli work" {
		t.Errorf("admin resolved = %+v key %s", r.Profile, r.KeyProfile)
	}
	if _, err := c.Resolve("bad"); err == nil {
		t.Error("credential_process with source_profile accepted")
	}
	if r, err := c.Resolve("unknown"); err != nil || r.KeyProfile != "unknown" {
		t.Errorf("unknown profile: %v %+v", err, r)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[profile x\nregion=1", "config:1: section header without ']'"},
		{"region = x", "config:1: key outside any section"},
		{"[profile x]\njunk", "config:2: expected key = value"},
		{"[profile x]\nduration_seconds = lots", `config:2: duration_seconds "lots" is not a positive number of seconds`},
		{"[profile ]\n", "config:1: profile section without a name"},
		{"[profile x]\n[profile]\nregion = x\n", "config:2: profile section without a name"},
		{"[profile x]\nregion = a\n[profile x]\nduration_seconds = 0\n", `config:4: duration_seconds "0" is not a positive number of seconds`},
		// As in botocore (MissingSectionHeaderError), an indented line
		// before any section is refused, not skipped as a continuation.
		{"  region = x\n[profile x]\n", "config:1: indented line outside any section"},
	} {
		_, err := Parse("config", []byte(tc.in))
		var se *awsini.SyntaxError
		if !errors.As(err, &se) || err.Error() != tc.want {
			t.Errorf("Parse(%q) = %v, want %s", tc.in, err, tc.want)
		}
	}
}

// Repeated sections merge, as in the AWS CLI; sso-session sections are
// read beside the profiles, and sections of other kinds are not ours.
func TestParseSections(t *testing.T) {
	c, err := Parse("config", []byte(`[profile a]
region = r1
[sso-session corp]
sso_region = eu-west-1
[services s]
region = nope
[profile b]
region = r2
[profile a]
mfa_serial = m
region = r3
[sso-session corp]
sso_start_url = https://x.awsapps.com/start
[sso-session]
sso_region = nope
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Profiles["a"]
	if names := c.Names(); !slices.Equal(names, []string{"a", "b"}) || a.Line != 1 || a.Region != "r3" || a.MFASerial != "m" {
		t.Errorf("profiles %v; a = %+v", names, a)
	}
	s := c.SSOSessions["corp"]
	if len(c.SSOSessions) != 1 || s.Line != 3 || s.Region != "eu-west-1" || s.StartURL != "https://x.awsapps.com/start" {
		t.Errorf("sso-sessions %v; corp = %+v", c.SSOSessions, s)
	}
}

// The AWS CLI has no limit on a line's length, only the file's size
// limits a value (Load's MaxFileSize).
func TestParseLongLine(t *testing.T) {
	long := strings.Repeat("r", 5<<20)
	c, err := Parse("config", []byte("[profile a]\nregion = "+long+"\nmfa_serial = m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Profiles["a"]; p.Region != long || p.MFASerial != "m" {
		t.Errorf("region of %d bytes, mfa_serial %q", len(p.Region), p.MFASerial)
	}
}

// A profile with source_profile inherits mfa_serial, region and
// mfa_process from its source when it does not set them, and keeps its own
// when it does.
func TestResolveInheritsFromSource(t *testing.T) {
	c, err := Parse("config", []byte(`[profile work]
mfa_serial = arn:aws:iam::1:mfa/alice
region = eu-west-1
mfa_process = ykman oath accounts code -s aws

[profile ro]
source_profile = work

[profile ops]
source_profile = work
role_arn = arn:aws:iam::1:role/ops
mfa_process = pass otp aws-ops
region = us-east-1

[profile bare]
[profile onbare]
source_profile = bare
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		profile, key, serial, region, process string
	}{
		{"work", "work", "arn:aws:iam::1:mfa/alice", "eu-west-1", "ykman oath accounts code -s aws"},
		{"ro", "work", "arn:aws:iam::1:mfa/alice", "eu-west-1", "ykman oath accounts code -s aws"},
		{"ops", "work", "arn:aws:iam::1:mfa/alice", "us-east-1", "pass otp aws-ops"},
		{"onbare", "bare", "", "", ""},
	} {
		r, err := c.Resolve(tc.profile)
		if err != nil {
			t.Fatalf("%s: %v", tc.profile, err)
		}
		if r.KeyProfile != tc.key || r.MFASerial != tc.serial || r.Region != tc.region || r.MFAProcess != tc.process {
			t.Errorf("%s: key %q serial %q region %q mfa_process %q; want %q %q %q %q", tc.profile,
				r.KeyProfile, r.MFASerial, r.Region, r.MFAProcess, tc.key, tc.serial, tc.region, tc.process)
		}
	}
	// Resolving does not change the profile as read.
	if c.Profiles["ro"].MFAProcess != "" {
		t.Error("Resolve wrote the inherited mfa_process into the profile")
	}
}

const chainSample = `[profile k]
mfa_serial = arn:aws:iam::1:mfa/k
region = eu-west-1
[profile a]
role_arn = arn:aws:iam::1:role/a
source_profile = k
[profile b]
role_arn = arn:aws:iam::2:role/b
source_profile = a
region = us-east-1
[profile c]
role_arn = arn:aws:iam::3:role/c
source_profile = b
[profile selfkey]
role_arn = arn:aws:iam::1:role/self
source_profile = selfkey
[profile d]
role_arn = arn:aws:iam::3:role/d
source_profile = selfkey
[profile norole]
source_profile = a
[profile loop1]
role_arn = arn:aws:iam::1:role/l1
source_profile = loop2
[profile loop2]
role_arn = arn:aws:iam::1:role/l2
source_profile = loop1
`

func TestResolveRoleChain(t *testing.T) {
	c, err := Parse("config", []byte(chainSample))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		profile string
		// hops lists the profile and its sources, first to last.
		hops    []string
		key     string
		region  string
		serial  string
		wantErr string
	}{
		{profile: "a", hops: []string{"a"}, key: "k", region: "eu-west-1", serial: "arn:aws:iam::1:mfa/k"},
		{profile: "b", hops: []string{"b", "a"}, key: "k", region: "us-east-1", serial: "arn:aws:iam::1:mfa/k"},
		{profile: "c", hops: []string{"c", "b", "a"}, key: "k", region: "us-east-1", serial: "arn:aws:iam::1:mfa/k"},
		{profile: "d", hops: []string{"d", "selfkey"}, key: "selfkey"},
		{profile: "norole", wantErr: "needs a role_arn of its own"},
		{profile: "loop1", wantErr: "loop1 -> loop2 -> loop1"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			r, err := c.Resolve(tc.profile)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var hops []string
			for h := r; h != nil; h = h.Source {
				hops = append(hops, h.Name)
				if h.KeyProfile != tc.key {
					t.Errorf("hop %s: key profile %q, want %q", h.Name, h.KeyProfile, tc.key)
				}
			}
			if strings.Join(hops, ",") != strings.Join(tc.hops, ",") || r.Region != tc.region || r.MFASerial != tc.serial {
				t.Errorf("hops %v region %q serial %q; want %v %q %q", hops, r.Region, r.MFASerial, tc.hops, tc.region, tc.serial)
			}
		})
	}
	// A chain longer than MaxChain is refused, not followed forever.
	var b strings.Builder
	b.WriteString("[profile p0]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = key\n")
	for i := 1; i <= MaxChain+1; i++ {
		fmt.Fprintf(&b, "[profile p%d]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = p%d\n", i, i-1)
	}
	c, err = Parse("config", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(fmt.Sprintf("p%d", MaxChain+1)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a chain of %d roles: %v", MaxChain+2, err)
	}
}

func TestSessionTags(t *testing.T) {
	for _, tc := range []struct {
		line       string
		tags       map[string]string
		transitive []string
		wantErr    string
	}{
		{line: "session_tags = team=ops, cost=42\ntransitive_session_tags = team", tags: map[string]string{"team": "ops", "cost": "42"}, transitive: []string{"team"}},
		{line: "session_tags = a=", tags: map[string]string{"a": ""}},
		{line: "session_tags = novalue", wantErr: "not key=value"},
		{line: "session_tags = =v", wantErr: "not key=value"},
		{line: "session_tags = a=1,a=2", wantErr: "given twice"},
		{line: "session_tags = " + strings.Repeat("k", MaxTagKeyLen+1) + "=v", wantErr: "longer than 128"},
		{line: "session_tags = k=" + strings.Repeat("v", MaxTagValueLen+1), wantErr: "longer than 256"},
	} {
		c, err := Parse("config", []byte("[profile x]\nsource_identity = alice\n"+tc.line+"\n"))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "config:3") {
				t.Errorf("%q: err %v, want %q at config:3", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		p := c.Profiles["x"]
		if !maps.Equal(p.SessionTags, tc.tags) || !slices.Equal(p.TransitiveSessionTags, tc.transitive) || p.SourceIdentity != "alice" {
			t.Errorf("%q: tags %v transitive %v source identity %q", tc.line, p.SessionTags, p.TransitiveSessionTags, p.SourceIdentity)
		}
	}
	var b strings.Builder
	b.WriteString("[profile x]\nsession_tags = ")
	for i := range MaxSessionTags + 1 {
		fmt.Fprintf(&b, "k%d=v,", i)
	}
	if _, err := Parse("config", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "STS allows 50") {
		t.Errorf("51 tags: %v", err)
	}
}

func TestLoadAndPath(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOME": dir}
	getenv := func(k string) string { return env[k] }
	if got, want := Path(getenv), filepath.Join(dir, ".aws", "config"); got != want {
		t.Errorf("Path = %s, want %s", got, want)
	}
	env["AWS_CONFIG_FILE"] = "~/cfg"
	p := Path(getenv)
	if p != filepath.Join(dir, "cfg") {
		t.Errorf("Path = %s", p)
	}
	c, err := Load(p)
	if err != nil || len(c.Profiles) != 0 {
		t.Fatalf("missing file: %v %v", c, err)
	}
	if err := os.WriteFile(p, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(p)
	if err != nil || len(c.Profiles) != 4 {
		t.Fatalf("Load: %v %d", err, len(c.Profiles))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("[profile x]\nduration_seconds=900\n"))
	f.Add([]byte(chainSample))
	f.Add([]byte("[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n[profile d]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = A\n[profile r]\nsource_profile = d\nrole_arn = arn:aws:iam::1:role/r\n"))
	f.Add([]byte("[profile x]\nsession_tags = a=b,c=d\ntransitive_session_tags = a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for name := range c.Profiles {
			_, _ = c.Resolve(name)
		}
	})
}

// A config file past the limit is refused with a message that says so
// and names the file (not a read error from the limit itself).
func TestLoadTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, bytes.Repeat([]byte("# comment\n"), MaxFileSize/10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Load of a %d-byte file: %v", MaxFileSize+10, err)
	}
	// Exactly at the limit is fine.
	if err := os.WriteFile(p, bytes.Repeat([]byte("# sixteen bytes\n"), MaxFileSize/16), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("Load of a file at the limit: %v", err)
	}
}

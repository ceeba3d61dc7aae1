package guardduty

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/report"
)

func decodeAll(t *testing.T, name string, data []byte) (*Set, []*InputError) {
	t.Helper()
	var errs []*InputError
	s := &Set{}
	st := Decode(name, bytes.NewReader(data), s.Add, func(e *InputError) { errs = append(errs, e) })
	s.Merge(st)
	return s, errs
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestDecodeShapes(t *testing.T) {
	export := fixture(t, "export.jsonl")
	tests := []struct {
		name string
		data []byte
		keys []string // access key IDs kept, in order
		want Stats
	}{
		{"export jsonl", export,
			[]string{"AKIARTX3GSDS2RWAIZGX", "ASIARTX3GSDSQWERTY12", "ASIARTX3GSDSROOT0001"},
			Stats{Kept: 3, OtherFindings: 1, Archived: 1, Duplicates: 1}},
		{"export jsonl.gz", gz(export),
			[]string{"AKIARTX3GSDS2RWAIZGX", "ASIARTX3GSDSQWERTY12", "ASIARTX3GSDSROOT0001"},
			Stats{Kept: 3, OtherFindings: 1, Archived: 1, Duplicates: 1}},
		{"get-findings wrapper", fixture(t, "get-findings.json"),
			[]string{"AKIARTX3GSDS2RWAIZGX"}, Stats{Kept: 1, OtherFindings: 1}},
		{"eventbridge", fixture(t, "eventbridge.json"),
			[]string{"ASIARTX3GSDSQWERTY12"}, Stats{Kept: 1}},
		{"array", fixture(t, "array.json"),
			[]string{"AKIARTX3GSDS2RWAIZGX", "ASIARTX3GSDSROOT0001"}, Stats{Kept: 2}},
		{"empty", nil, nil, Stats{}},
		{"not findings", []byte("{\"Records\":[]}\n42\n\"x\"\n"), nil, Stats{NotFindings: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := decodeAll(t, "in.json", tt.data)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			var keys []string
			for _, f := range s.Findings() {
				keys = append(keys, f.AccessKeyID)
			}
			if strings.Join(keys, ",") != strings.Join(tt.keys, ",") {
				t.Errorf("keys = %v, want %v", keys, tt.keys)
			}
			if s.Stats != tt.want {
				t.Errorf("stats = %+v, want %+v", s.Stats, tt.want)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	s, _ := decodeAll(t, "export.jsonl", fixture(t, "export.jsonl"))
	f := s.Findings()[1]
	// The later export of the same finding replaced the first.
	if f.Count != 31 || !f.LastSeen.Equal(time.Date(2024, 6, 3, 16, 55, 0, 0, time.UTC)) {
		t.Errorf("count %d last %s: want the update (31, 16:55)", f.Count, f.LastSeen)
	}
	want := Finding{
		ID: "b4e1d2c3a4b54c6d8e7f9a0b1c2d3e4f", Type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
		AccountID: "111122223333", Region: "us-east-1", Severity: 8, AccessKeyID: "ASIARTX3GSDSQWERTY12",
		UserName: "web-app-role", UserType: "AssumedRole", API: "ListBuckets", ServiceName: "s3.amazonaws.com",
		RemoteIP: "198.51.100.23", RemoteCountry: "Germany", RemoteOrg: "Example Cloud GmbH",
	}
	got := Finding{ID: f.ID, Type: f.Type, AccountID: f.AccountID, Region: f.Region, Severity: f.Severity,
		AccessKeyID: f.AccessKeyID, UserName: f.UserName, UserType: f.UserType, API: f.API, ServiceName: f.ServiceName,
		RemoteIP: f.RemoteIP, RemoteCountry: f.RemoteCountry, RemoteOrg: f.RemoteOrg}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if f.Level() != report.SeverityHigh {
		t.Errorf("level %s, want high", f.Level())
	}
}

func TestLevel(t *testing.T) {
	for _, tt := range []struct {
		sev  float64
		want report.Severity
	}{{0, report.SeverityInfo}, {1, report.SeverityLow}, {3.9, report.SeverityLow}, {4, report.SeverityMedium},
		{6.9, report.SeverityMedium}, {7, report.SeverityHigh}, {8.9, report.SeverityHigh}, {9, report.SeverityCritical}, {10, report.SeverityCritical}} {
		f := Finding{Severity: tt.sev}
		if got := f.Level(); got != tt.want {
			t.Errorf("Level(%g) = %s, want %s", tt.sev, got, tt.want)
		}
	}
}

func TestAboutCredentials(t *testing.T) {
	for _, tt := range []struct {
		f    Finding
		want bool
	}{
		{Finding{Type: "Recon:EC2/PortProbeUnprotectedPort"}, false},
		{Finding{Type: "Policy:S3/BucketBlockPublicAccessDisabled"}, false},
		{Finding{Type: "Policy:S3/BucketBlockPublicAccessDisabled", AccessKeyID: "AKIAEXAMPLE"}, true},
		{Finding{Type: "CredentialAccess:IAMUser/AnomalousBehavior"}, true},
		{Finding{Type: "CredentialAccess:Kubernetes/MaliciousIPCaller"}, true},
		{Finding{Type: "Discovery:IAMUser/AnomalousBehavior"}, true},
		{Finding{Type: "PenTest:IAMUser/KaliLinux"}, true},
		{Finding{Type: "Policy:IAMUser/RootCredentialUsage"}, true},
		{Finding{Type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS"}, true},
		{Finding{Type: "UnauthorizedAccess:EC2/MetadataDNSRebind"}, true},
	} {
		if got := tt.f.AboutCredentials(); got != tt.want {
			t.Errorf("%s (key %q): %v, want %v", tt.f.Type, tt.f.AccessKeyID, got, tt.want)
		}
	}
}

func TestDecodeHostile(t *testing.T) {
	line := strings.TrimSpace(strings.SplitN(string(fixture(t, "export.jsonl")), "\n", 2)[0])
	tests := []struct {
		name     string
		data     []byte
		kept     int
		errs     []string // each error's text contains these, in order
		errCount int
	}{
		{"bad line then good", []byte("{\"id\":\"x\",\"type\":\n" + "oops\n" + line + "\n"), 1,
			[]string{"in.json:2:1: bad JSON"}, 1},
		{"cut line runs into the next", []byte("{\"id\":\n" + line + "\n" + line + "\n"), 1,
			[]string{"in.json:3:1: bad JSON: in the value from line 1"}, 1},
		{"truncated last line", []byte(line + "\n" + line[:200]), 1, []string{"in.json:2:"}, 1},
		{"wrong type", []byte(line + "\n{\"id\":\"x\",\"type\":[1]}\n"), 1,
			[]string{"in.json:2:1: not a GuardDuty finding: field type: want string"}, 1},
		{"severity as string", []byte(strings.Replace(line, `"severity":5.0`, `"severity":"5.0"`, 1)), 1, nil, 0},
		{"severity not a number", []byte(strings.Replace(line, `"severity":5.0`, `"severity":"high"`, 1)), 0,
			[]string{"in.json:1:1: not a GuardDuty finding"}, 1},
		{"bad array ends input", []byte("[\n" + line + ",\n{\"id\": ]\n"), 1, []string{"in.json:3:"}, 1},
		{"not gzip after magic", []byte{0x1f, 0x8b, 0, 0}, 0, []string{"in.json: gzip"}, 1},
		{"deep nesting", []byte(strings.Repeat("[", 20000)), 0, []string{"in.json:1:"}, 1},
		{"controls in fields stay data", []byte(strings.Replace(line, "alice", "al\\u001b[31mice", 1)), 1, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := decodeAll(t, "in.json", tt.data)
			if len(s.Findings()) != tt.kept {
				t.Errorf("kept %d, want %d", len(s.Findings()), tt.kept)
			}
			if len(errs) != tt.errCount || s.Errors != tt.errCount {
				t.Fatalf("errors %v (counted %d), want %d", errs, s.Errors, tt.errCount)
			}
			for i, w := range tt.errs {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %q does not contain %q", errs[i], w)
				}
			}
		})
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	defer func(n int) { inputLimit = n }(inputLimit)
	inputLimit = 1 << 20
	big := bytes.Repeat([]byte(" "), inputLimit+1)
	for _, tt := range []struct {
		name string
		data []byte
	}{{"plain", big}, {"gzip bomb", gz(big)}} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := decodeAll(t, "big.json", tt.data)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), "big.json: larger than") {
				t.Fatalf("errors %v, want one naming the size limit", errs)
			}
		})
	}
}

func TestSetLimit(t *testing.T) {
	s := &Set{Limit: 2}
	for _, id := range []string{"a", "b", "c", "a"} {
		s.Add(&Finding{ID: id, Type: "Discovery:IAMUser/AnomalousBehavior"})
	}
	if len(s.Findings()) != 2 || s.OverLimit != 1 || s.Duplicates != 1 {
		t.Errorf("kept %d over %d dup %d, want 2, 1, 1", len(s.Findings()), s.OverLimit, s.Duplicates)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"export.jsonl", "get-findings.json", "eventbridge.json", "array.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("{\"id\":1}\n[1,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Set{}
		errs := 0
		st := Decode("fuzz", bytes.NewReader(data), s.Add, func(e *InputError) {
			errs++
			if e.Line < 0 || e.Column < 0 {
				t.Fatalf("bad position %d:%d", e.Line, e.Column)
			}
		})
		if st.Errors != errs {
			t.Fatalf("counted %d errors, reported %d", st.Errors, errs)
		}
		for _, g := range s.Findings() {
			if g.Type == "" || g.ID == "" && g.Arn == "" {
				t.Fatalf("kept a finding without type or id: %+v", g)
			}
			_ = g.Detect().Message()
		}
	})
}

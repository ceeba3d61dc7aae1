package respond

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFromReport(t *testing.T) {
	tests := []struct {
		file     string
		kind     string
		keys     string
		redacted int
		examples int
		err      string
	}{
		{file: "scan.json", kind: "keywarden scan JSON", keys: "AKIAQ3EGRAJXOTHERKEY AKIARZPUZDIKLEAKEDKY", redacted: 1, examples: 1},
		{file: "detect.jsonl", kind: "keywarden detect JSON lines", keys: "ASIARZPUZDIKEZ3NSKTV", redacted: 1},
		{file: "detect.sarif", kind: "SARIF", keys: "AKIARZPUZDIKLEAKEDKY"},
		{file: "other.sarif", err: `other.sarif: a SARIF report of "gitleaks", not of keywarden scan or detect`},
		{file: "audit.json", err: `audit.json: a report of "keywarden audit", not of keywarden scan or detect`},
		{file: "garbage.txt", err: "garbage.txt: not a JSON object at byte"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "from", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			fr, err := ParseFromReport(tc.file, data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fr.Kind != tc.kind || strings.Join(fr.Keys, " ") != tc.keys || fr.Redacted != tc.redacted || len(fr.RedactedIDs) != tc.redacted || fr.Examples != tc.examples {
				t.Errorf("got %+v", fr)
			}
		})
	}
}

func TestReadReport(t *testing.T) {
	tests := []struct{ name, data, err string }{
		{"scan", `{"tool":"keywarden scan","findings":[]}`, `not a keywarden respond report (tool "keywarden scan"`},
		{"broken", `{"tool":`, "not JSON at byte"},
		{"foreign call", `{"tool":"keywarden respond","steps":[{"kind":"x","call":{"action":"ec2:TerminateInstances"},"status":"done"}]}`, `"ec2:TerminateInstances" is not a call respond makes`},
		{"null step", `{"tool":"keywarden respond","steps":[null]}`, "step 1 is empty"},
		{"escape", `{"tool":"\u001b[31mevil"}`, `not a keywarden respond report (tool "`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadReport("r.json", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("a terminal escape reached the message: %q", err)
			}
		})
	}
}

func FuzzParseFromReport(f *testing.F) {
	for _, name := range []string{"scan.json", "detect.jsonl", "detect.sarif", "other.sarif", "audit.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "from", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseFromReport("fuzz", data)
		if err == nil {
			for _, k := range fr.Keys {
				if CheckID(k) != nil && !strings.HasSuffix(k, "EXAMPLE") {
					t.Errorf("kept %q, not a key ID", k)
				}
			}
		}
	})
}

func FuzzReadReport(f *testing.F) {
	f.Add([]byte(`{"tool":"keywarden respond","steps":[{"kind":"deactivate-key","call":{"action":"iam:UpdateAccessKey","params":[{"name":"UserName","value":"a"}]},"undo":{"action":"iam:UpdateAccessKey"},"status":"done"}]}`))
	f.Add([]byte(`{"tool":"keywarden respond","steps":[null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadReport("fuzz", data)
		if err != nil {
			return
		}
		steps, _ := UndoSteps(r)
		for _, s := range steps {
			if !strings.HasPrefix(s.Call.Action, "iam:") {
				t.Errorf("undo would call %q", s.Call.Action)
			}
			_ = s.Call.Command()
		}
	})
}

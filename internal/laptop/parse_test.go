package laptop

import (
	"testing"
	"time"
)

func TestHistories(t *testing.T) {
	ts := func(n int64) time.Time { return time.Unix(n, 0).UTC() }
	type want struct {
		line    int
		raw     string // the entry's bytes in the file
		command string
		time    time.Time
	}
	tests := []struct {
		name  string
		shell Shell
		data  string
		want  []want
	}{
		{"bash with timestamps", ShellBash, "#1700000000\nls\n#not a time\nexport A=1\n",
			[]want{{2, "ls", "ls", ts(1700000000)}, {3, "#not a time", "#not a time", time.Time{}}, {4, "export A=1", "export A=1", time.Time{}}}},
		{"zsh extended, continued, metafied", ShellZsh, ": 1700000000:0;echo \x83\xb4x\n: 1700000001:5;a \\\nb\nplain\n",
			[]want{{1, ": 1700000000:0;echo \x83\xb4x", "echo \x94x", ts(1700000000)}, {2, ": 1700000001:5;a \\\nb", "a \nb", ts(1700000001)}, {4, "plain", "plain", time.Time{}}}},
		{"fish", ShellFish, "- cmd: echo a\\nb \\\\ c\n  when: 1700000000\n  paths:\n    - x\n- cmd: ls\n",
			[]want{{1, "- cmd: echo a\\nb \\\\ c\n  when: 1700000000\n  paths:\n    - x", "echo a\nb \\ c", ts(1700000000)}, {5, "- cmd: ls", "ls", time.Time{}}}},
		{"powershell", ShellPowerShell, "Get-Item `\r\n  -Path x\r\nls\r\n",
			[]want{{1, "Get-Item `\r\n  -Path x", "Get-Item `\r\n  -Path x", time.Time{}}, {3, "ls", "ls", time.Time{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseHistory(tc.shell, []byte(tc.data))
			if len(got) != len(tc.want) {
				t.Fatalf("%d entries, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Line != w.line || tc.data[g.Start:g.End] != w.raw || g.Command != w.command || !g.Time.Equal(w.time) {
					t.Errorf("entry %d: line %d raw %q command %q time %v\nwant %+v", i, g.Line, tc.data[g.Start:g.End], g.Command, g.Time, w)
				}
			}
		})
	}
}

func TestUnmetafy(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"\x83\xa0", "\x80"},
		{"a\x83 b", "a\x00b"},
		{"end\x83", "end\x83"}, // a lone Meta at the end stays
	} {
		if got := string(Unmetafy([]byte(tc.in))); got != tc.want {
			t.Errorf("Unmetafy(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseAssignments(t *testing.T) {
	tests := []struct {
		line, wantVar, wantVal string
	}{
		{"export AWS_ACCESS_KEY_ID=AKIAX", "AWS_ACCESS_KEY_ID", "AKIAX"},
		{"  export AWS_SECRET_ACCESS_KEY=\"s/e+c\"  # mine", "AWS_SECRET_ACCESS_KEY", "s/e+c"},
		{"AWS_SESSION_TOKEN='t'; ", "AWS_SESSION_TOKEN", "t"},
		{"declare -x PROD_AWS_SECRET_ACCESS_KEY=v", "PROD_AWS_SECRET_ACCESS_KEY", "v"},
		{"set -gx AWS_ACCESS_KEY_ID AKIAX", "AWS_ACCESS_KEY_ID", "AKIAX"},
		{"setenv AWS_SECRET_ACCESS_KEY v", "AWS_SECRET_ACCESS_KEY", "v"},
		{"$env:AWS_SECRET_ACCESS_KEY = \"v\"", "AWS_SECRET_ACCESS_KEY", "v"},
		{"export EDITOR=vim", "", ""},
		{"if true; then export AWS_ACCESS_KEY_ID=x; fi", "", ""},
		{"echo AWS_ACCESS_KEY_ID=x && ls", "", ""},
	}
	for _, tc := range tests {
		data := []byte("# first\n" + tc.line + "\n")
		got := ParseAssignments(data)
		if tc.wantVar == "" {
			if len(got) != 0 {
				t.Errorf("%q: %+v, want none", tc.line, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Var != tc.wantVar || string(data[got[0].ValStart:got[0].ValEnd]) != tc.wantVal || got[0].Line.No != 2 {
			t.Errorf("%q: %+v", tc.line, got)
		}
	}
}

func TestNameFromVar(t *testing.T) {
	for v, want := range map[string]string{
		"AWS_ACCESS_KEY_ID": "default", "aws_secret_access_key": "default", "PROD_AWS_SECRET_ACCESS_KEY": "prod",
		"AWS_ACCESS_KEY_ID_STAGING": "staging", "MY_APP_AWS_ACCESS_KEY": "my-app", "": "default",
	} {
		if got := NameFromVar(v); got != want {
			t.Errorf("NameFromVar(%q) = %q, want %q", v, got, want)
		}
	}
}

func fuzzHistory(f *testing.F, sh Shell, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		prev := -1
		for _, e := range ParseHistory(sh, data) {
			if e.Start < 0 || e.Start > e.End || e.End > len(data) || e.Start <= prev {
				t.Fatalf("bad entry span %+v (len %d)", e, len(data))
			}
			prev = e.Start
			if got, ok := EntryAt(ParseHistory(sh, data), e.Start); !ok || got.Start != e.Start {
				t.Fatalf("EntryAt(%d) = %+v %v", e.Start, got, ok)
			}
		}
	})
}

func FuzzBashHistory(f *testing.F) {
	fuzzHistory(f, ShellBash, "#1700000000\nls\n#x\n", "\r\n#9999999999999999999\n")
}

func FuzzZshHistory(f *testing.F) {
	fuzzHistory(f, ShellZsh, ": 1700000000:0;echo \x83\xb4\n: 1:2;a \\\nb\n", ": ;\\\n\\")
}

func FuzzFishHistory(f *testing.F) {
	fuzzHistory(f, ShellFish, "- cmd: a\\nb\n  when: 17\n  paths:\n    - x\n", "  when: 1\n- cmd: \\")
}

func FuzzPSReadLine(f *testing.F) {
	fuzzHistory(f, ShellPowerShell, "a `\nb\r\nc\n", "`\n`")
}

func FuzzParseAssignments(f *testing.F) {
	f.Add([]byte("export AWS_SECRET_ACCESS_KEY=\"x\"\nset -gx AWS_ACCESS_KEY_ID y\n$env:AWS_SESSION_TOKEN='z'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range ParseAssignments(data) {
			if a.ValStart < a.Line.Start || a.ValStart > a.ValEnd || a.ValEnd > a.Line.End || a.Line.End > len(data) {
				t.Fatalf("bad assignment span %+v", a)
			}
		}
	})
}

func FuzzHooksPath(f *testing.F) {
	f.Add([]byte("[core]\n\thooksPath = \"~/h\"\n"))
	f.Add([]byte("[core\nhookspath"))
	f.Fuzz(func(t *testing.T, data []byte) { _ = HooksPath(data) })
}

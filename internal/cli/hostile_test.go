package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// hostileText holds what lets input drive a terminal: ESC (a colour and a
// clear-screen sequence), BEL, the C1 CSI U+009B and a raw 0x9B byte (CSI
// to an 8-bit terminal), and the bidi override U+202E, which JSON output
// must escape.
const hostileText = "\x1b[31m\x07\u009b2J\x9bX\u202eY"

// rawControl finds the first byte or rune in out that drives a terminal:
// C0 controls other than line feed and tab, DEL, C1 controls, and a lone
// byte 0x80-0x9f that is not part of valid UTF-8.
func rawControl(out string) (string, bool) {
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		bad := (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
			(r == utf8.RuneError && n == 1 && out[i] >= 0x80 && out[i] <= 0x9f)
		if bad {
			from, to := max(0, i-40), min(len(out), i+40)
			return fmt.Sprintf("byte %d: %q", i, out[from:to]), true
		}
		i += n
	}
	return "", false
}

// hostileFixtures writes testdata/hostile into dir twice: under plain
// names and under a directory whose name is hostile itself. "@BAD@" in a
// fixture becomes hostileText (JSON-escaped in .json, .jsonl and .tf
// files, which cannot hold raw controls). It returns the paths written.
func hostileFixtures(t *testing.T, src, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := json.Marshal(hostileText)
	escaped := strings.Trim(string(q), `"`)
	var paths []string
	for _, sub := range []string{"plain", "h" + hostileText} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			with := hostileText
			switch filepath.Ext(e.Name()) {
			case ".json", ".jsonl", ".tf":
				with = escaped
			}
			p := filepath.Join(dir, sub, e.Name())
			if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(data), "@BAD@", with)), 0o600); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	return paths
}

// TestNoRawControlsReachTheTerminal runs every command of the tree (new
// ones are covered without touching this test) over arguments, flag
// values, stdin and files holding ESC, BEL and C1 controls, in every
// output format, and fails when one reaches stdout or stderr raw.
func TestNoRawControlsReachTheTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every command many times")
	}
	vaultNoTerminal(t)
	src, err := filepath.Abs(filepath.Join("testdata", "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	work := t.TempDir()
	t.Chdir(work)
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "XDG_CACHE_HOME": filepath.Join(home, ".cache"),
		"XDG_STATE_HOME": filepath.Join(home, ".state"), "XDG_DATA_HOME": filepath.Join(home, ".data"),
		"GIT_CEILING_DIRECTORIES": filepath.Dir(work), "GIT_CONFIG_NOSYSTEM": "1", "SHELL": "/bin/true",
		// AWS: no credentials, nothing beyond a closed loopback port, no
		// instance metadata, one attempt.
		"AWS_CONFIG_FILE": filepath.Join(work, "plain", "config.ini"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "",
		"AWS_DEFAULT_REGION": "", "KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_PASSPHRASE": "correct horse",
	} {
		t.Setenv(k, v)
	}
	fixtures := hostileFixtures(t, src, work)
	stamps := fixtureStamps(fixtures)
	stdin, err := os.ReadFile(fixtures[len(fixtures)-1])
	if err != nil {
		t.Fatal(err)
	}

	ios, _, _ := Test("")
	root := NewRootCmd(&Factory{IO: ios})
	// cobra adds these when it runs; add them now so they are walked too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var cmds []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		cmds = append(cmds, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)

	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	runs, known := 0, 0
	for _, c := range cmds {
		path := strings.Fields(c.CommandPath())[1:]
		var cases [][]string
		add := func(extra ...string) { cases = append(cases, append(append([]string(nil), path...), extra...)) }
		add(hostileText)
		add("\x9b2J") // a lone 8-bit CSI, nothing else to give it away
		add("--" + hostileText)
		add("-")
		add("x", hostileText, "--", hostileText)
		cases = append(cases, append(append([]string{"__complete"}, path...), hostileText))
		for _, p := range fixtures {
			add(p)
		}
		var flags []*pflag.Flag
		c.Flags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f) })
		sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
		for _, f := range flags {
			if f.Name == "help" || f.Value.Type() == "bool" {
				continue
			}
			add("--"+f.Name, hostileText)
			add("--"+f.Name+"="+hostileText, fixtures[0])
			if strings.HasPrefix(f.Value.Type(), "string") {
				for _, p := range fixtures {
					add("--"+f.Name, p)
				}
			}
			if f.Name == "format" {
				for _, v := range flagChoices(f) {
					for _, p := range fixtures {
						add("--format", v, p)
					}
					add("--format", v, "-")
				}
			}
		}
		t.Run(strings.Join(append([]string{"keywarden"}, path...), " "), func(t *testing.T) {
			failed := 0
			for _, args := range cases {
				io, out, errOut := Test(string(stdin))
				Main(&Factory{IO: io, Getenv: os.Getenv, Now: func() time.Time { return now }}, args)
				runs++
				if fixturesChanged(fixtures, stamps) {
					// a run overwrote one (--report, -o): put them back
					hostileFixtures(t, src, work)
					stamps = fixtureStamps(fixtures)
				}
				for name, s := range map[string]string{"stdout": out.String(), "stderr": errOut.String()} {
					where, bad := rawControl(s)
					if !bad && name == "stdout" && hostileJSON(args) {
						where, bad = rawBidi(s)
					}
					if !bad {
						continue
					}
					if why := hostileKnown(strings.Join(path, " "), args); why != "" {
						known++
						t.Logf("KNOWN (%s): keywarden %q: raw control on %s at %s", why, args, name, where)
						continue
					}
					if failed < 20 {
						failed++
						t.Errorf("keywarden %q: raw control on %s at %s", args, name, where)
					}
				}
			}
		})
	}
	t.Logf("%d commands, %d runs, %d known failures left to their owners", len(cmds), runs, known)
}

// hostileKnownFailures are the places, in files other engineers own, that
// still echo a path the user gave raw; each owner fixes its own (one
// report.Printable each) and deletes its entry here. Keyed by command
// path and flag.
var hostileKnownFailures = map[string]string{}

// hostileKnown returns why running the command at path (without
// "keywarden") with args fails the test already, or "".
func hostileKnown(path string, args []string) string {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if why, ok := hostileKnownFailures[path+" "+name]; ok && strings.HasPrefix(a, "--") {
			return why
		}
	}
	return ""
}

// fixtureStamps records size and modification time of each path.
func fixtureStamps(paths []string) []string {
	st := make([]string, len(paths))
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			st[i] = fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return st
}

func fixturesChanged(paths, stamps []string) bool {
	now := fixtureStamps(paths)
	for i := range now {
		if now[i] != stamps[i] {
			return true
		}
	}
	return false
}

// hostileJSON reports whether args ask for JSON or SARIF output.
func hostileJSON(args []string) bool {
	for i, a := range args {
		if a == "--format" && i+1 < len(args) && (args[i+1] == "json" || args[i+1] == "sarif") {
			return true
		}
	}
	return false
}

// rawBidi finds a raw bidirectional override or isolate, which JSON and
// SARIF output escape.
func rawBidi(out string) (string, bool) {
	for i, r := range out {
		if (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			from, to := max(0, i-40), min(len(out), i+40)
			return fmt.Sprintf("byte %d: %q", i, out[from:to]), true
		}
	}
	return "", false
}

package cli

import (
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/pflag"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every runnable command must have an example in its --help.
func TestEveryCommandHasExample(t *testing.T) {
	ios, _, _ := Test("")
	root := NewRootCmd(&Factory{IO: ios})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if len(sub.Commands()) == 0 {
				n++
				if strings.TrimSpace(sub.Example) == "" {
					t.Errorf("%q has no example in its help", sub.CommandPath())
				}
				if sub.Short == "" {
					t.Errorf("%q has no short description", sub.CommandPath())
				}
			}
			walk(sub)
		}
	}
	walk(root)
	if n == 0 {
		t.Fatal("no commands registered")
	}
}

func TestExitCodes(t *testing.T) {
	ios, _, errOut := Test("")
	f := &Factory{IO: ios}
	if code := Main(f, []string{"version"}); code != ExitClean {
		t.Errorf("version: exit %d", code)
	}
	if code := Main(f, []string{"version", "--bogus"}); code != ExitError {
		t.Errorf("bad flag: exit %d", code)
	}
	if !strings.Contains(errOut.String(), "unknown flag") {
		t.Errorf("stderr = %q", errOut.String())
	}
	if ExitCode(ErrFindings()) != ExitFindings {
		t.Error("ErrFindings does not exit 1")
	}
}

// Only a non-empty NO_COLOR disables colour (https://no-color.org).
func TestColorDisabled(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"unset", map[string]string{}, false},
		{"set but empty", map[string]string{"NO_COLOR": ""}, false},
		{"set", map[string]string{"NO_COLOR": "1"}, true},
		{"any value", map[string]string{"NO_COLOR": "false"}, true},
		{"dumb terminal", map[string]string{"TERM": "dumb"}, true},
		{"xterm", map[string]string{"TERM": "xterm-256color"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := colorDisabled(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("colorDisabled(%v) = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
}

func TestResolveVersion(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name      string
		set       string
		bi        *debug.BuildInfo
		want      string
		wantFacts []string
	}{
		{"no build info", "", nil, "(devel)", nil},
		{"ldflags, no build info", "v1.2.3", nil, "v1.2.3", nil},
		{"go install module@version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0", nil},
		{"ldflags win over the module version", "v2.0.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v2.0.0", nil},
		{"clone built with vcs stamping", "", &debug.BuildInfo{
			Main:     debug.Module{Version: "v1.4.1-0.20261203093000-0123456789ab+dirty"},
			Settings: settings("vcs", "git", "vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-12-03T09:30:00Z", "vcs.modified", "true"),
		}, "v1.4.1-0.20261203093000-0123456789ab+dirty", []string{"commit 0123456789ab", "2026-12-03T09:30:00Z", "modified"}},
		{"clone without tags", "", &debug.BuildInfo{
			Main:     debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "abc", "vcs.modified", "false"),
		}, "(devel)", []string{"commit abc"}},
		{"-buildvcs=false", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("-buildmode", "exe")}, "(devel)", nil},
		{"ldflags with vcs facts", " v1.0.0\n", &debug.BuildInfo{Settings: settings("vcs.revision", "fedcba987654321")}, "v1.0.0", []string{"commit fedcba987654"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, facts := resolveVersion(tt.set, tt.bi)
			if got != tt.want || !slices.Equal(facts, tt.wantFacts) {
				t.Errorf("resolveVersion(%q) = %q, %q; want %q, %q", tt.set, got, facts, tt.want, tt.wantFacts)
			}
			if got == "dev" {
				t.Error(`"dev" is never a version`)
			}
		})
	}
}

// Every command with --format or --fail-on completes their values in the
// shell, through cobra's hidden __complete command that the completion
// scripts call.
func TestFlagValueCompletion(t *testing.T) {
	ios, _, _ := Test("")
	root := NewRootCmd(&Factory{IO: ios})
	checked := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, name := range completedFlags {
			f := c.Flags().Lookup(name)
			if f == nil {
				continue
			}
			want := flagChoices(f)
			if len(want) == 0 {
				t.Errorf("%s --%s: its usage %q does not end with the values (a|b|c)", c.CommandPath(), name, f.Usage)
				continue
			}
			args := append(append([]string{"__complete"}, strings.Fields(c.CommandPath())[1:]...), "--"+name, "")
			io, out, _ := Test("")
			if code := Main(&Factory{IO: io}, args); code != 0 {
				t.Errorf("%q: exit %d", args, code)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if got := lines[:len(lines)-1]; !slices.Equal(got, want) || lines[len(lines)-1] != ":4" {
				t.Errorf("%q completes %q, want %q then :4 (no file completion)", args, lines, want)
			}
			checked++
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if checked < 10 {
		t.Errorf("only %d flags checked", checked)
	}
}

func TestFlagChoices(t *testing.T) {
	tests := []struct{ usage, want string }{
		{"output format: text|json|sarif", "text json sarif"},
		{"output format: text|json (one finding per line)|csv|sarif", "text json csv sarif"},
		{"exit 1 when a finding is at least this severe: info|low|medium|high|critical|none", "info low medium high critical none"},
		{"write the output to this file", ""},
		{"a list: one|two words", ""},
	}
	for _, tt := range tests {
		got := strings.Join(flagChoices(&pflag.Flag{Usage: tt.usage}), " ")
		if got != tt.want {
			t.Errorf("flagChoices(%q) = %q, want %q", tt.usage, got, tt.want)
		}
	}
}

// The README's --fail-on table is the rule's one statement: every command
// with --fail-on is in it, with the default the command really has.
func TestFailOnDefaultsMatchREADME(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z ]+)`[^|]* \\| `([a-z]+)` \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		documented[m[1]] = m[2]
	}
	ios, _, _ := Test("")
	root := NewRootCmd(&Factory{IO: ios})
	seen := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if f := c.Flags().Lookup("fail-on"); f != nil {
			seen++
			name := strings.TrimPrefix(c.CommandPath(), "keywarden ")
			want, ok := documented[name]
			switch {
			case !ok:
				t.Errorf("%s has --fail-on but no row in README.md's --fail-on table", name)
			case f.DefValue != want:
				t.Errorf("%s: --fail-on defaults to %q, README.md says %q", name, f.DefValue, want)
			}
			if _, err := report.ParseSeverity(f.DefValue); err != nil || f.DefValue == "info" {
				t.Errorf("%s: default %q: info is a note and never fails by default", name, f.DefValue)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if seen < 4 {
		t.Errorf("only %d commands with --fail-on", seen)
	}
}

// System reads NO_COLOR the no-color.org way: set but empty keeps colour.
func TestSystemNoColorEmpty(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	for _, tt := range []struct {
		value   string
		noColor bool
	}{{"", false}, {"1", true}} {
		t.Setenv("NO_COLOR", tt.value)
		if got := System().noColor; got != tt.noColor {
			t.Errorf("NO_COLOR=%q: colour disabled = %v, want %v", tt.value, got, tt.noColor)
		}
	}
}

func TestSuggestFlags(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	for _, n := range []string{"format", "fail-on", "profile", "region", "report", "secret-hidden"} {
		fs.String(n, "", "")
	}
	_ = fs.MarkHidden("secret-hidden")
	tests := []struct{ typed, want string }{
		{"formt", "--format"},
		{"FORMAT", "--format"},
		{"format=json", "--format"},
		{"fail-onn", "--fail-on"},
		{"prof", "--profile"},       // a prefix
		{"re", "--region --report"}, // prefixes, by name
		{"regoin", "--region"},
		{"secret-hidde", ""}, // hidden flags are not suggested
		{"zzzzzz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(suggestFlags(fs, tt.typed), " "); got != tt.want {
			t.Errorf("suggestFlags(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
}

package cli

import (
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

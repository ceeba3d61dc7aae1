package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/keywarden/keywarden/internal/cli"
	"github.com/keywarden/keywarden/internal/laptop/laptoptest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts under testdata/script run "keywarden" as a real
// command inside the test binary, with no build step.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"keywarden": func() { os.Exit(cli.Main(cli.NewFactory(), os.Args[1:])) },
	})
}

// TestScripts runs every CLI end-to-end script. Each script pins a command's
// observable behaviour: output, exit code, files written.
// Run with -update to rewrite the expected output files in the scripts.
func TestScripts(t *testing.T) {
	shared, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data"))
	// A loopback server that answers 404 to everything: an instance
	// metadata endpoint without IMDSv2, which makes the SDK log its
	// IMDSv1 fallback warning (scripts check that it never shows).
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close) // not defer: the scripts run in parallel after this function returns
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// The shared public samples, for scripts that use them; scripts
			// that need them start with: [!shared] skip 'no ../shared/data'
			env.Setenv("SHARED_DATA", shared)
			env.Setenv("NO_COLOR", "1")
			env.Setenv("NOT_FOUND_URL", notFound.URL)
			return nil
		},
		Cmds: scriptCmds(t),
		Condition: func(cond string) (bool, error) {
			if cond == "shared" {
				_, err := os.Stat(shared)
				return err == nil, nil
			}
			if cond == "moto" {
				return motoCond(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// scriptCmds are the commands scripts have besides testscript's own: the
// emulator's (moto_script_test.go) and fakehome.
func scriptCmds(t *testing.T) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := motoCmds(t)
	// fakehome DIR writes the fake home directory of the doctor and
	// import scripts (internal/laptop/laptoptest) into DIR.
	cmds["fakehome"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: fakehome DIR")
		}
		ts.Check(laptoptest.Write(ts.MkAbs(args[0])))
	}
	return cmds
}

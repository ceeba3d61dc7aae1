package baseline

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTofuFmt runs the real formatter, OpenTofu's `tofu fmt -check`, over
// every variant's module. CI builds tofu (.ci/deps.d/70-tofu.sh) and sets
// KEYWARDEN_TOFU; elsewhere the test uses tofu from PATH or skips.
func TestTofuFmt(t *testing.T) {
	bin := os.Getenv("KEYWARDEN_TOFU")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("tofu"); err != nil {
			if os.Getenv("KEYWARDEN_REQUIRE_TOFU") != "" {
				t.Fatal("KEYWARDEN_REQUIRE_TOFU is set but neither KEYWARDEN_TOFU nor tofu on PATH is")
			}
			t.Skip("tofu not found: skipping the formatter check (bash .ci/deps.d/70-tofu.sh builds it)")
		}
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range Terraform(plan(t, v.opts)) {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bin, "fmt", "-check", "-diff", "-no-color", dir)
			cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tofu fmt -check: %v\n%s", err, out)
			}
		})
	}
}

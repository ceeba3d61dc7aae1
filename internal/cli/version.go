package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is keywarden's version. A release build sets it with
//
//	go build -ldflags "-X github.com/keywarden/keywarden/internal/cli.Version=v1.2.3" ./cmd/keywarden
//
// When it is not set, init takes it from the module's build information
// (`go install github.com/keywarden/keywarden/cmd/keywarden@v1.2.3`, or a
// build from a clone, which Go stamps from the VCS), else "(devel)".
var Version string

// versionFacts is what else is known about the build: the commit and
// whether the tree was modified, when Go stamped them.
var versionFacts []string

func init() {
	bi, _ := debug.ReadBuildInfo()
	Version, versionFacts = resolveVersion(Version, bi)
	register("", 1000, newVersionCmd)
}

// resolveVersion decides the version from the -ldflags value (set) and the
// build information (bi, nil when the binary has none). The version is
// set's value, else the module version Go recorded, else "(devel)"; facts
// are the VCS commit, its time and "modified" when Go recorded them (a
// build with -buildvcs=false records none).
func resolveVersion(set string, bi *debug.BuildInfo) (version string, facts []string) {
	version = strings.TrimSpace(set)
	if bi == nil {
		if version == "" {
			version = "(devel)"
		}
		return version, nil
	}
	if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	if version == "" {
		version = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		facts = append(facts, "commit "+rev)
	}
	if at != "" {
		facts = append(facts, at)
	}
	if modified {
		facts = append(facts, "modified")
	}
	return version, facts
}

// versionLine is what `keywarden version` and `keywarden --version` print.
func versionLine() string {
	facts := append(append([]string(nil), versionFacts...), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("keywarden %s (%s)", Version, strings.Join(facts, ", "))
}

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print keywarden's version",
		Long: `Print keywarden's version, and the commit it was built from when Go recorded
it. A build without a release version prints "(devel)"; README.md says how
to stamp one.`,
		Example: "  keywarden version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(f.IO.Out, versionLine())
			return err
		},
	}
}

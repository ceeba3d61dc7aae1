package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/keywarden/keywarden/internal/atomicfile"
	"github.com/spf13/cobra"
)

func init() {
	register("hook", 10, newHookInstallCmd)
	register("hook", 20, newHookUninstallCmd)
	register("hook", 90, newHookRunCmd)
}

// hookMarker is the line that identifies a hook script as ours, so that
// install can update it and uninstall never deletes a hook it did not
// write.
const hookMarker = "# keywarden-hook v1"

// hookChainedSuffix is appended to the name of a hook that was in place
// before ours: ours runs it first, and uninstall puts it back.
const hookChainedSuffix = ".keywarden-chained"

// hookOptions are the inputs of `keywarden hook install` and `uninstall`.
type hookOptions struct {
	IO      *IOStreams
	Dir     string // a directory inside the repository
	PrePush bool   // the pre-push hook instead of the pre-commit hook
	// Command is the keywarden executable the hook runs; empty means this
	// process's own executable (falling back to "keywarden" on PATH).
	Command string
	// Baseline is a baseline file the hook's scan applies (relative to the
	// top of the work tree, where git runs hooks).
	Baseline string
}

func (o *hookOptions) hookName() string {
	if o.PrePush {
		return "pre-push"
	}
	return "pre-commit"
}

func (o *hookOptions) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Dir, "repo", "C", ".", "a directory inside the git repository")
	cmd.Flags().BoolVar(&o.PrePush, "pre-push", false, "the pre-push hook (scans the commits being pushed) instead of the pre-commit hook")
}

func newHookInstallCmd(f *Factory) *cobra.Command {
	opts := &hookOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install a git hook that refuses commits (or pushes) holding AWS keys",
		Long: `Install a git hook in the current repository.

The pre-commit hook (the default) runs "keywarden scan --staged" and refuses
the commit when what is staged holds an AWS credential. With --pre-push, a
pre-push hook scans the blobs of the commits being pushed that no remote has
yet, and refuses the push.

The hook goes where git looks for hooks: .git/hooks, or core.hooksPath when
that is set. A hook already there is kept (renamed NAME.keywarden-chained)
and still runs, before keywarden; "keywarden hook uninstall" puts it back.
Installing again updates keywarden's hook in place.

"git commit --no-verify" skips the hook for one commit; a line with
"keywarden:allow" or a baseline (see "keywarden scan --help") silences a
known finding for good.`,
		Example: `  keywarden hook install
  keywarden hook install --pre-push
  keywarden hook install --baseline .keywarden-baseline.json
  keywarden hook install -C ~/src/infra`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHookInstall(cmd.Context(), opts)
		},
	}
	opts.bind(cmd)
	cmd.Flags().StringVar(&opts.Baseline, "baseline", "", "make the hook's scan accept the findings of this baseline file (path relative to the top of the work tree)")
	cmd.Flags().StringVar(&opts.Command, "command", "", "the keywarden executable the hook runs (default: this one)")
	_ = cmd.Flags().MarkHidden("command")
	return cmd
}

func newHookUninstallCmd(f *Factory) *cobra.Command {
	opts := &hookOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove keywarden's git hook and restore the hook it chained",
		Long: `Remove the hook "keywarden hook install" put in place, and put back the hook
that was there before, if any. A hook keywarden did not write is left alone.`,
		Example: `  keywarden hook uninstall
  keywarden hook uninstall --pre-push`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHookUninstall(cmd.Context(), opts)
		},
	}
	opts.bind(cmd)
	return cmd
}

// hookDir returns the directory git runs hooks from: core.hooksPath when
// set (relative to the top of the work tree, "~" expanded), else
// .git/hooks of the common git directory (shared by worktrees).
func hookDir(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--path-format=absolute", "--git-path", "hooks")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%s: %s", dir, msg)
	}
	return strings.TrimSpace(string(out)), nil
}

// hookCommand is the keywarden the hook runs: an absolute path, so the
// hook works whatever PATH git is run with (GUI clients, IDEs).
func hookCommand(opts *hookOptions) string {
	if opts.Command != "" {
		return opts.Command
	}
	exe, err := os.Executable()
	if err != nil || strings.HasPrefix(exe, os.TempDir()+string(filepath.Separator)+"go-build") {
		return "keywarden" // unknown, or a `go run` binary about to vanish
	}
	return exe
}

// hookScript is the hook's text. It runs the chained hook first (with the
// same arguments and, for pre-push, the same standard input), then
// keywarden. If the recorded executable has gone (an upgrade moved it), it
// falls back to keywarden on PATH. It starts no process but keywarden and
// the chained hook (no dirname): it runs before every commit.
func hookScript(name, command, baseline string) string {
	extra := ""
	if baseline != "" {
		extra = " --baseline " + shellQuote(baseline)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/sh
%s %s
# Installed by "keywarden hook install"; remove with "keywarden hook uninstall".
# A hook that was here before was kept as %s%s and runs first.
kw=%s
[ -x "$kw" ] || kw=keywarden
case $0 in */*) hooks=${0%%/*} ;; *) hooks=. ;; esac
chained="$hooks/%s%s"
`, hookMarker, name, name, hookChainedSuffix, shellQuote(command), name, hookChainedSuffix)
	switch name {
	case "pre-push":
		// git gives the refs being pushed on stdin; both hooks need them.
		b.WriteString(`if [ -x "$chained" ]; then
	input=$(cat)
	printf '%s\n' "$input" | "$chained" "$@" || exit $?
	printf '%s\n' "$input" | "$kw" hook run pre-push` + extra + ` "$@"
	exit $?
fi
exec "$kw" hook run pre-push` + extra + ` "$@"
`)
	default:
		b.WriteString(`if [ -x "$chained" ]; then
	"$chained" "$@" || exit $?
fi
"$kw" scan --staged --quiet` + extra + `
rc=$?
if [ "$rc" -eq 1 ]; then
	echo "keywarden: commit refused: the staged changes hold AWS credentials (listed above)." >&2
	echo "Unstage them (git restore --staged FILE), mark a false positive with keywarden:allow, or commit with --no-verify to override." >&2
fi
exit "$rc"
`)
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hookIsOurs reports whether the file at path is a hook keywarden wrote.
func hookIsOurs(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return strings.Contains(string(data[:min(len(data), 512)]), hookMarker), nil
}

func runHookInstall(ctx context.Context, opts *hookOptions) error {
	dir, err := hookDir(ctx, opts.Dir)
	if err != nil {
		return UsageError(err)
	}
	name := opts.hookName()
	path := filepath.Join(dir, name)
	chained := path + hookChainedSuffix
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	kept := false
	switch st, err := os.Lstat(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		ours := false
		if st.Mode().IsRegular() {
			if ours, err = hookIsOurs(path); err != nil {
				return err
			}
		}
		if !ours {
			if _, err := os.Lstat(chained); err == nil {
				return usageErrorf("%s exists and so does %s: move one of them away first", path, chained)
			}
			if err := os.Rename(path, chained); err != nil {
				return err
			}
			kept = true
		}
	}
	if err := atomicfile.Write(path, []byte(hookScript(name, hookCommand(opts), opts.Baseline)), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Installed the keywarden %s hook: %s\n", name, path)
	if kept {
		fmt.Fprintf(opts.IO.Out, "The existing hook was kept as %s and still runs first.\n", chained)
	} else if _, err := os.Stat(chained); err == nil {
		fmt.Fprintf(opts.IO.Out, "It runs the chained hook %s first.\n", chained)
	}
	return nil
}

func runHookUninstall(ctx context.Context, opts *hookOptions) error {
	dir, err := hookDir(ctx, opts.Dir)
	if err != nil {
		return UsageError(err)
	}
	name := opts.hookName()
	path := filepath.Join(dir, name)
	chained := path + hookChainedSuffix
	ours, err := hookIsOurs(path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(opts.IO.Out, "No keywarden %s hook in %s: nothing to do.\n", name, dir)
		return nil
	}
	if err != nil {
		return err
	}
	if !ours {
		return usageErrorf("%s was not installed by keywarden: leaving it alone", path)
	}
	if _, err := os.Lstat(chained); err == nil {
		if err := os.Rename(chained, path); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "Removed the keywarden %s hook and restored the previous one: %s\n", name, path)
		return nil
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Removed the keywarden %s hook: %s\n", name, path)
	return nil
}

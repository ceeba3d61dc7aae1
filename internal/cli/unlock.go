package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/keywarden/keywarden/internal/vault/keycache"
	"github.com/spf13/cobra"
)

func init() {
	register("", 68, newUnlockCmd)
	register("", 69, newLockCmd)
	register("", 70, newUnlockAgentCmd)
}

// unlockCacheNames are the values of --cache.
var unlockCacheNames = []string{"auto", "keyctl", "agent"}

// unlockAgentExe is the keywarden binary the agent is started from; tests
// point it at a built binary.
var unlockAgentExe = os.Executable

// unlockKeyctl is the kernel keyring; tests replace it with one the
// kernel refuses, to drive the fall-back to the agent.
var unlockKeyctl keycache.Cache = keycache.Keyctl{}

// unlockAgentWait bounds the wait for a new agent's socket.
const unlockAgentWait = 5 * time.Second

// unlockCaches is what the encrypted file asks before the passphrase: the
// kernel keyring, then the agent.
func unlockCaches(getenv func(string) string) vault.KeyCache {
	return keycache.Chain{unlockKeyctl, keycache.AgentClient{Socket: keycache.SocketPath(getenv)}}
}

type unlockOptions struct {
	*vaultOptions
	For   time.Duration
	Cache string
}

func newUnlockCmd(f *Factory) *cobra.Command {
	opts := &unlockOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Keep the encrypted file store unlocked for a while (kernel keyring or agent)",
		Long: `Ask for the encrypted file store's passphrase once and keep the key derived
from it (never the passphrase) for --for: in the Linux kernel keyring, with
a timeout the kernel enforces, or where the keyring cannot be used in a
small keywarden agent on a 0600 Unix socket in $XDG_RUNTIME_DIR/keywarden
(else /tmp/keywarden-UID), which answers only your uid and forgets on time.
Until then commands on the file store do not ask for the passphrase.
keywarden lock forgets it at once. Neither writes the key to disk; any
process of yours can use it meanwhile, as with ssh-agent.`,
		Example: `  keywarden unlock --for 8h
  keywarden unlock --for 30m --cache agent
  keywarden lock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUnlock(cmd.Context(), opts)
		},
	}
	opts.bindStore(cmd)
	cmd.Flags().DurationVar(&opts.For, "for", 8*time.Hour, "how long to keep the store unlocked (1s to 168h)")
	cmd.Flags().StringVar(&opts.Cache, "cache", "", "where to keep the key: "+strings.Join(unlockCacheNames, "|")+" (default: KEYWARDEN_UNLOCK_CACHE, else auto: the kernel keyring where it works, else the agent)")
	_ = cmd.RegisterFlagCompletionFunc("cache", cobra.FixedCompletions(unlockCacheNames, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runUnlock(ctx context.Context, opts *unlockOptions) error {
	if opts.For < time.Second || opts.For > keycache.MaxTTL {
		return usageErrorf("--for %s: want 1s to %s", opts.For, keycache.MaxTTL)
	}
	choice := opts.Cache
	if choice == "" {
		choice = opts.Getenv("KEYWARDEN_UNLOCK_CACHE")
	}
	if choice == "" {
		choice = "auto"
	}
	if !slices.Contains(unlockCacheNames, choice) {
		return usageErrorf("--cache %q: want one of %s", report.Printable(choice), strings.Join(unlockCacheNames, ", "))
	}
	v, err := opts.openWith(opts.passphrase)
	if err != nil {
		return UsageError(err)
	}
	fs, ok := v.Store.(*vault.FileStore)
	if !ok {
		return usageErrorf("unlock is for the encrypted file store; the %s backend is unlocked by its own keychain", v.Store.Backend())
	}
	id, key, err := fs.UnlockKey()
	if err != nil {
		return UsageError(err)
	}
	defer clear(key)
	var where string
	if choice == "auto" || choice == "keyctl" {
		kerr := unlockKeyctl.Put(id, key, opts.For)
		switch {
		case kerr == nil:
			where = unlockKeyctl.Name()
		case choice == "keyctl":
			return fmt.Errorf("the kernel keyring refused the key: %w", kerr)
		default:
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: the kernel keyring refused the key (%v); using the agent\n", kerr)
		}
	}
	if where == "" {
		if err := putInAgent(ctx, opts, id, key); err != nil {
			return err
		}
		where = "the keywarden agent (" + keycache.SocketPath(opts.Getenv) + ")"
	}
	until := opts.Now().Add(opts.For).UTC().Format(time.RFC3339)
	fmt.Fprintf(opts.IO.Out, "Unlocked %s until %s (%s); the key is kept in %s. keywarden lock forgets it.\n",
		report.Printable(fs.Path()), until, opts.For, report.Printable(where))
	return nil
}

// putInAgent gives the key to the running agent, starting one first when
// none answers.
func putInAgent(ctx context.Context, opts *unlockOptions, id string, key []byte) error {
	socket := keycache.SocketPath(opts.Getenv)
	client := keycache.AgentClient{Socket: socket}
	err := client.Put(id, key, opts.For)
	if err == nil || !errors.Is(err, keycache.ErrNoAgent) {
		return err
	}
	exe, err := unlockAgentExe()
	if err != nil {
		return fmt.Errorf("cannot find the keywarden binary to start the agent: %w", err)
	}
	cmd := exec.Command(exe, "unlock-agent", "--socket", socket)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "KEYWARDEN_FILE_PASSPHRASE=") || strings.HasPrefix(kv, "XDG_RUNTIME_DIR=")
	})
	// The agent checks that it listens where unlock looks (SocketPath):
	// give it the runtime directory this process resolved the socket from.
	if d := opts.Getenv("XDG_RUNTIME_DIR"); d != "" {
		cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+d)
	}
	keycache.Detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start the agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(unlockAgentWait)
	for {
		err := client.Put(id, key, opts.For)
		if err == nil || !errors.Is(err, keycache.ErrNoAgent) {
			return err
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("the agent exited before it answered: %v", werr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the agent did not answer on %s within %s", socket, unlockAgentWait)
		}
	}
}

func newLockCmd(f *Factory) *cobra.Command {
	opts := vaultNewOptions(f)
	return &cobra.Command{
		Use:   "lock",
		Short: "Forget the key keywarden unlock kept (kernel keyring and agent)",
		Long: `Forget the encrypted file store's derived key that keywarden unlock kept in the
kernel keyring, and stop the keywarden agent (which forgets every key it
holds). The next command on the file store asks for the passphrase again.`,
		Example: `  keywarden unlock --for 8h   # in the morning
  keywarden lock              # when you leave`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLock(opts)
		},
	}
}

func runLock(opts *vaultOptions) error {
	fs := vault.NewFileStore(vault.DefaultFileDir(opts.Getenv), nil)
	var said []string
	id, ok, err := fs.CacheID()
	if err != nil {
		return UsageError(err)
	}
	if ok {
		switch err := unlockKeyctl.Forget(id); {
		case err == nil:
			said = append(said, "forgot the key in the kernel keyring")
		case !errors.Is(err, keycache.ErrNotCached):
			return err
		}
	}
	stopped, err := keycache.AgentClient{Socket: keycache.SocketPath(opts.Getenv)}.Stop()
	if err != nil {
		return err
	}
	if stopped {
		said = append(said, "stopped the keywarden agent")
	}
	if len(said) == 0 {
		fmt.Fprintln(opts.IO.Out, "Nothing was unlocked.")
		return nil
	}
	s := strings.Join(said, " and ")
	fmt.Fprintf(opts.IO.Out, "Locked: %s%s.\n", strings.ToUpper(s[:1]), s[1:])
	return nil
}

func newUnlockAgentCmd(f *Factory) *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:    "unlock-agent",
		Short:  "The agent keywarden unlock starts (not for direct use)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if socket == "" {
				return usageErrorf("--socket is required")
			}
			// Only where unlock looks for it: the agent is started by
			// unlock, never pointed at an arbitrary path.
			getenv := f.Getenv
			if getenv == nil {
				getenv = os.Getenv
			}
			if want := keycache.SocketPath(getenv); socket != want {
				return usageErrorf("--socket: the agent listens only on %s", report.Printable(want))
			}
			l, err := keycache.Listen(socket)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return keycache.NewAgent(f.Now).Serve(ctx, l)
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "the socket to listen on")
	return cmd
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 66, newVaultRotateCmd) }

type vaultRotateOptions struct {
	*vaultOptions
	Profile        string
	DryRun         bool
	DeleteInactive bool
	KeepOld        bool
	WaitTimeout    time.Duration
}

func newVaultRotateCmd(f *Factory) *cobra.Command {
	opts := &vaultRotateOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "rotate PROFILE",
		Short: "Replace a stored key with a new one, safely",
		Long: `Replace the long-term key stored for PROFILE (or for its source_profile):

  1. list the user's keys (with an MFA session when the profile has
     mfa_serial). IAM allows two: if there already are two, stop and say
     which is the other and whether it is used, or with --delete-inactive
     delete the other one if it is inactive;
  2. create the new key and store it;
  3. wait until STS accepts the new key (with backoff, at most --wait);
  4. deactivate the old key, and delete it unless --keep-old.

If a step fails, keywarden undoes what it can (the new key is deleted again
and the old one put back in the store if the new key never worked) and says
exactly what state the account and the store are in. --dry-run says what it
would do and changes nothing.

Before creating the key, rotate records the rotation in the store, and adds
the new key to that record as soon as IAM returns it. If keywarden is killed
half-way (or a deactivate or delete failed), the next rotate of the profile
settles that rotation first and says which way: finished when the new key
works (stored, the old key deactivated and deleted as first asked), else
rolled back (the old key back in the store, the new key deleted). It starts
no new rotation then; exit 1 after a roll-back.`,
		Example: `  keywarden rotate work --dry-run
  keywarden rotate work
  keywarden rotate work --delete-inactive --keep-old`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteStored|vaultCompleteConfig, false),
		RunE:              vaultProfileRunE(&opts.Profile, func(ctx context.Context) error { return runVaultRotate(ctx, opts) }),
	}
	opts.bindSession(cmd)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "say what would be done, change nothing")
	cmd.Flags().BoolVar(&opts.DeleteInactive, "delete-inactive", false, "when the user already has two keys and the other is inactive, delete it first")
	cmd.Flags().BoolVar(&opts.KeepOld, "keep-old", false, "deactivate the old key but do not delete it")
	cmd.Flags().DurationVar(&opts.WaitTimeout, "wait", 2*time.Minute, "how long to wait for the new key to work")
	return cmd
}

func runVaultRotate(ctx context.Context, opts *vaultRotateOptions) error {
	// Once the account starts changing, Ctrl-C (or a TERM) must not kill
	// the rotation between two steps: it cancels the context instead,
	// which stops the wait for the new key and rolls back, while the calls
	// that change the account run to completion (see vault.Rotator), and
	// the state is reported as for any failure. Before that (at an MFA
	// prompt), Ctrl-C ends the command as usual.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	defer signal.Stop(sigs)
	s, err := opts.sessions()
	if err != nil {
		return err
	}
	c := opts.clients()
	r := &vault.Rotator{
		Sessions:    s,
		NewIAM:      c.IAM,
		WaitTimeout: opts.WaitTimeout,
		Log: func(format string, args ...any) {
			fmt.Fprintf(opts.IO.ErrOut, "  "+format+"\n", args...)
		},
		Changing: func() {
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			go func() {
				select {
				case <-sigs:
					fmt.Fprintf(opts.IO.ErrOut, "keywarden: interrupted: finishing the current step, then rolling back where it is safe\n")
					cancel()
				case <-ctx.Done():
				}
			}()
		},
	}
	if opts.DryRun {
		fmt.Fprintf(opts.IO.ErrOut, "Dry run: nothing will be changed.\n")
	}
	res, err := r.Rotate(ctx, vault.RotateOptions{Profile: opts.Profile, DryRun: opts.DryRun, DeleteInactive: opts.DeleteInactive, KeepOld: opts.KeepOld})
	if err != nil {
		var re *vault.RotateError
		if errors.As(err, &re) || errors.Is(err, vault.ErrTwoKeys) {
			return &ExitErr{Code: ExitFindings, Err: err}
		}
		return vaultUserError(err)
	}
	user := report.Printable(res.User)
	switch {
	case opts.DryRun && res.Resumed:
		fmt.Fprintf(opts.IO.Out, "Would settle the interrupted rotation of the key %s of user %s.\n", awskey.Redact(res.OldKeyID), user)
	case opts.DryRun:
		fmt.Fprintf(opts.IO.Out, "Would rotate the key %s of user %s.\n", awskey.Redact(res.OldKeyID), user)
	case res.RolledBack:
		fmt.Fprintf(opts.IO.Out, "Rolled back the interrupted rotation of user %s: %s is still the key in use. Run keywarden rotate %s again to rotate it.\n",
			user, awskey.Redact(res.OldKeyID), report.Printable(opts.Profile))
		return ErrFindings()
	case res.Resumed && res.Deleted:
		fmt.Fprintf(opts.IO.Out, "Finished the interrupted rotation of user %s: %s replaces %s, which is deleted.\n", user, awskey.Redact(res.NewKeyID), awskey.Redact(res.OldKeyID))
	case res.Resumed:
		fmt.Fprintf(opts.IO.Out, "Finished the interrupted rotation of user %s: %s replaces %s, which is inactive (kept).\n", user, awskey.Redact(res.NewKeyID), awskey.Redact(res.OldKeyID))
	case res.Deleted:
		fmt.Fprintf(opts.IO.Out, "Rotated the key of user %s: %s replaces %s, which is deleted.\n", user, awskey.Redact(res.NewKeyID), awskey.Redact(res.OldKeyID))
	default:
		fmt.Fprintf(opts.IO.Out, "Rotated the key of user %s: %s replaces %s, which is inactive (kept).\n", user, awskey.Redact(res.NewKeyID), awskey.Redact(res.OldKeyID))
	}
	return nil
}

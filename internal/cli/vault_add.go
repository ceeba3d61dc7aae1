package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 60, newVaultAddCmd) }

type vaultAddOptions struct {
	*vaultOptions
	Profile  string
	FromEnv  bool
	FromIn   bool
	NoVerify bool
	Force    bool
}

func newVaultAddCmd(f *Factory) *cobra.Command {
	opts := &vaultAddOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "add PROFILE",
		Short: "Store a long-term access key in the OS keychain or the encrypted file",
		Long: `Store the long-term access key of PROFILE, encrypted: in the OS keychain
(Secret Service, macOS Keychain, Windows Credential Manager, pass, keyctl) or,
where there is none, in an age-encrypted file (~/.keywarden/vault.age).

The key ID and secret are asked for on the terminal (the secret without
echo), or read from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY with --env,
or from two lines on stdin with --stdin. Both are checked for shape, and
unless --no-verify, sts:GetCallerIdentity says whose key it is before it is
stored. Remove the plain-text copy from ~/.aws/credentials afterwards.`,
		Example: `  keywarden add work
  AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... keywarden add work --env
  keywarden add ci --backend file --stdin < keyfile`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteConfig, false),
		RunE:              vaultProfileRunE(&opts.Profile, func(ctx context.Context) error { return runVaultAdd(ctx, opts) }),
	}
	opts.bindStore(cmd)
	opts.bindAWS(cmd)
	cmd.Flags().BoolVar(&opts.FromEnv, "env", false, "read the key from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	cmd.Flags().BoolVar(&opts.FromIn, "stdin", false, "read the key ID and the secret from the first two lines of stdin")
	cmd.Flags().BoolVar(&opts.NoVerify, "no-verify", false, "store without asking STS whose key it is")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace a key already stored for PROFILE")
	return cmd
}

// vaultCheckKey validates the shape of a key pair without echoing the
// secret.
func vaultCheckKey(id, secret string) error {
	switch {
	case id == "":
		return errors.New("the access key ID is empty")
	case !awskey.ValidCredentialID(id):
		if awskey.LooksLikeSecret(id) {
			return errors.New("the access key ID looks like a secret access key: were the two swapped?")
		}
		return fmt.Errorf("%q is not a well-formed access key ID (AKIA followed by 16 characters A-Z, 2-7)", report.Printable(awskey.Redact(id)))
	case awskey.KindOf(id) != awskey.KindLongTerm:
		return fmt.Errorf("%s is a %s: store long-term keys (AKIA...); temporary ones expire", awskey.Redact(id), awskey.KindOf(id))
	case len(secret) != awskey.SecretLength:
		return fmt.Errorf("the secret access key is %d characters long, not %d", len(secret), awskey.SecretLength)
	}
	for i := 0; i < len(secret); i++ {
		if !awskey.IsSecretChar(secret[i]) {
			return fmt.Errorf("the secret access key has a character at position %d that no secret access key has", i+1)
		}
	}
	return nil
}

func (o *vaultAddOptions) readKey() (string, string, error) {
	switch {
	case o.FromEnv && o.FromIn:
		return "", "", usageErrorf("--env and --stdin exclude each other")
	case o.FromEnv:
		id, secret := o.Getenv("AWS_ACCESS_KEY_ID"), o.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return "", "", usageErrorf("--env: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set")
		}
		return strings.TrimSpace(id), strings.TrimSpace(secret), nil
	case o.FromIn:
		sc := bufio.NewScanner(o.IO.In)
		sc.Buffer(make([]byte, 4096), 4096)
		var lines []string
		for len(lines) < 2 && sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) < 2 {
			return "", "", usageErrorf("--stdin: expected the key ID and the secret on two lines")
		}
		return lines[0], lines[1], nil
	}
	tty, err := vaultOpenTerminal()
	if err != nil {
		return "", "", usageErrorf("no terminal to ask for the key on: use --env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or --stdin")
	}
	defer tty.Close()
	id, err := tty.ReadLine("Access key ID: ")
	if err != nil {
		return "", "", err
	}
	secret, err := tty.ReadSecret("Secret access key: ")
	if err != nil {
		return "", "", err
	}
	return id, secret, nil
}

func runVaultAdd(ctx context.Context, opts *vaultAddOptions) error {
	v, err := opts.open()
	if err != nil {
		return err
	}
	if !opts.Force {
		if _, err := v.GetKey(opts.Profile); err == nil {
			return usageErrorf("profile %q already has a stored key: remove it first, or pass --force to replace it", opts.Profile)
		} else if !errors.Is(err, vault.ErrNotFound) {
			return err
		}
	}
	id, secret, err := opts.readKey()
	if err != nil {
		return err
	}
	if err := vaultCheckKey(id, secret); err != nil {
		return UsageError(err)
	}
	if awskey.IsExampleID(id) || awskey.IsExampleSecret(secret) {
		return usageErrorf("that is AWS's documentation example key, not a real one")
	}
	key := &vault.Key{AccessKeyID: id, SecretAccessKey: secret, Added: opts.Now().UTC()}
	if !opts.NoVerify {
		cfg, err := opts.config()
		if err != nil {
			return UsageError(err)
		}
		region := opts.region(cfg.Lookup(opts.Profile).Region)
		out, err := opts.clients().STS(vault.Credentials{AccessKeyID: id, SecretAccessKey: secret}, region).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return fmt.Errorf("STS did not accept the key %s, so it was not stored (use --no-verify to store it anyway): %w", awskey.Redact(id), err)
		}
		key.ARN = aws.ToString(out.Arn)
		fmt.Fprintf(opts.IO.ErrOut, "The key %s belongs to %s (account %s).\n", awskey.Redact(id), key.ARN, aws.ToString(out.Account))
		if vault.IsRoot(key.ARN) {
			fmt.Fprintf(opts.IO.ErrOut, "warning: this is the account root's key. Root keys cannot be limited by IAM policies: delete it and use an IAM user.\n")
		}
	}
	if err := v.SetKey(opts.Profile, key); err != nil {
		return fmt.Errorf("storing the key: %w", err)
	}
	// Sessions made with a key this one replaces are stale.
	_ = v.RemoveSessions(opts.Profile)
	fmt.Fprintf(opts.IO.Out, "Added profile %s (%s) to the %s store.\n", opts.Profile, awskey.Redact(id), v.Store.Backend())
	if path := vaultPlainTextCopy(opts.Getenv, id); path != "" {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s still holds this key in plain text: delete its aws_access_key_id and aws_secret_access_key lines now that keywarden keeps it\n", path)
	}
	return nil
}

// vaultPlainTextCopy returns the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) when it holds the
// key ID id: the copy that add is there to replace.
func vaultPlainTextCopy(getenv func(string) string, id string) string {
	path := getenv("AWS_SHARED_CREDENTIALS_FILE")
	if path == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		path = filepath.Join(home, ".aws", "credentials")
	} else if rest, ok := strings.CutPrefix(path, "~/"); ok && getenv("HOME") != "" {
		path = filepath.Join(getenv("HOME"), rest)
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil || !bytes.Contains(data, []byte(id)) {
		return ""
	}
	return path
}

package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("", 61, newVaultListCmd) }

// vaultMaxKeyAge is the age past which list warns that a key is due for
// rotation (the CIS benchmark's 90 days).
const vaultMaxKeyAge = 90 * 24 * time.Hour

type vaultListOptions struct {
	*vaultOptions
	Format string
}

func newVaultListCmd(f *Factory) *cobra.Command {
	opts := &vaultListOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stored keys, their age, and cached sessions",
		Long: `List the profiles with a stored key: the key ID (redacted), the key's age with
a warning past 90 days, and the sessions cached for it with their expiry. A
role session marked "via session PROFILE" was assumed with that profile's MFA
session and is renewed from it without an MFA code. A rotation that was
interrupted (keywarden killed half-way) is listed too: the next rotate of
that profile finishes it or rolls it back.
Exit 1 when a key is older than 90 days or a rotation was interrupted.`,
		Example: `  keywarden list
  keywarden list --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runVaultList(opts) },
	}
	opts.bindStore(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text|json")
	return cmd
}

type vaultListKey struct {
	Profile string    `json:"profile"`
	KeyID   string    `json:"key_id"`
	Added   time.Time `json:"added"`
	AgeDays int       `json:"age_days"`
	Old     bool      `json:"older_than_90_days"`
	ARN     string    `json:"arn,omitempty"`
}

type vaultListSession struct {
	Profile string `json:"profile"`
	Kind    string `json:"kind"`
	MFA     bool   `json:"mfa"`
	RoleARN string `json:"role_arn,omitempty"`
	// Via names the profile whose MFA session a chained role session was
	// assumed with: it is renewed from that session without a code.
	Via        string    `json:"via,omitempty"`
	KeyID      string    `json:"key_id"`
	Expiration time.Time `json:"expiration"`
	Fresh      bool      `json:"fresh"`
}

// vaultListRotation is a rotation that was interrupted: the next rotate
// of the profile finishes it or rolls it back.
type vaultListRotation struct {
	Profile  string    `json:"profile"`
	User     string    `json:"user"`
	OldKeyID string    `json:"old_key_id"`
	NewKeyID string    `json:"new_key_id,omitempty"`
	Started  time.Time `json:"started"`
}

func runVaultList(opts *vaultListOptions) error {
	format, err := report.ParseFormat(opts.Format, report.FormatText, report.FormatJSON)
	if err != nil {
		return UsageError(err)
	}
	v, err := opts.open()
	if err != nil {
		return err
	}
	now := opts.Now()
	names, err := v.KeyNames()
	if err != nil {
		return err
	}
	var keys []vaultListKey
	old := 0
	for _, n := range names {
		k, err := v.GetKey(n)
		if err != nil {
			return err
		}
		age := now.Sub(k.Born())
		lk := vaultListKey{Profile: n, KeyID: awskey.Redact(k.AccessKeyID), Added: k.Added, AgeDays: int(age.Hours() / 24), Old: age > vaultMaxKeyAge, ARN: k.ARN}
		if lk.Old {
			old++
		}
		keys = append(keys, lk)
	}
	sessions, err := v.Sessions()
	if err != nil {
		return err
	}
	pending, err := v.Rotations()
	if err != nil {
		return err
	}
	var lr []vaultListRotation
	for _, p := range pending {
		r := vaultListRotation{Profile: p.Profile, User: p.User, OldKeyID: awskey.Redact(p.Old.AccessKeyID), Started: p.Started}
		if p.New != nil {
			r.NewKeyID = awskey.Redact(p.New.AccessKeyID)
		}
		lr = append(lr, r)
	}
	var ls []vaultListSession
	for _, s := range sessions {
		ls = append(ls, vaultListSession{Profile: s.Profile, Kind: s.Kind, MFA: s.MFASerial != "", RoleARN: s.RoleARN, Via: s.Via,
			KeyID: awskey.Redact(s.AccessKeyID), Expiration: s.Expiration, Fresh: s.Fresh(now)})
	}
	if format == report.FormatJSON {
		enc := report.NewJSONEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Backend              string              `json:"backend"`
			Keys                 []vaultListKey      `json:"keys"`
			Sessions             []vaultListSession  `json:"sessions"`
			InterruptedRotations []vaultListRotation `json:"interrupted_rotations"`
		}{v.Store.Backend(), vaultNonNil(keys), vaultNonNil(ls), vaultNonNil(lr)}); err != nil {
			return err
		}
	} else {
		p := report.NewPalette(opts.IO.ColorEnabled())
		out := opts.IO.Out
		if len(keys) == 0 {
			fmt.Fprintf(out, "No keys stored in the %s store. Add one with: keywarden add PROFILE\n", v.Store.Backend())
		} else {
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tKEY\tAGE\tIDENTITY")
			for _, k := range keys {
				age := fmt.Sprintf("%dd", k.AgeDays)
				if k.Old {
					age = p.Yellow(age + " (rotate: older than 90 days)")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", report.Printable(k.Profile), k.KeyID, age, vaultOr(k.ARN, "-"))
			}
			tw.Flush()
		}
		if len(ls) > 0 {
			fmt.Fprintln(out)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SESSION\tKIND\tMFA\tKEY\tEXPIRES")
			for _, s := range ls {
				exp := s.Expiration.UTC().Format(time.RFC3339)
				switch {
				case !now.Before(s.Expiration):
					exp += " (expired)"
				case !s.Fresh:
					exp += " (expiring: will be renewed)"
				default:
					exp += fmt.Sprintf(" (in %s)", s.Expiration.Sub(now).Round(time.Minute))
				}
				kind := s.Kind
				if s.RoleARN != "" {
					kind += " " + report.Printable(s.RoleARN)
				}
				switch {
				case s.Via != "" && s.Kind == "sso":
					kind += " (sign-in " + report.Printable(s.Via) + ")"
				case s.Via != "":
					kind += " (via session " + report.Printable(s.Via) + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", report.Printable(s.Profile), kind, yesNo(s.MFA), s.KeyID, exp)
			}
			tw.Flush()
		}
		if len(lr) > 0 {
			fmt.Fprintln(out)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "INTERRUPTED ROTATION\tUSER\tOLD KEY\tNEW KEY\tSTARTED")
			for _, r := range lr {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", report.Printable(r.Profile), report.Printable(r.User), r.OldKeyID,
					vaultOr(r.NewKeyID, "(not recorded)"), r.Started.UTC().Format(time.RFC3339))
			}
			tw.Flush()
		}
	}
	for _, r := range lr {
		fmt.Fprintf(opts.IO.ErrOut, "The rotation of profile %s was interrupted: run keywarden rotate %s to finish it or roll it back.\n",
			report.Printable(r.Profile), report.Printable(r.Profile))
	}
	if old > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%d key(s) older than 90 days: replace them with keywarden rotate PROFILE\n", old)
		return ErrFindings()
	}
	if len(lr) > 0 {
		return ErrFindings()
	}
	return nil
}

func vaultNonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func vaultOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

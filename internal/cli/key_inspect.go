package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("key", 10, newKeyInspectCmd) }

// keyInspectOptions are the inputs of `keywarden key inspect`.
type keyInspectOptions struct {
	IO     *IOStreams
	IDs    []string
	Format string
}

func newKeyInspectCmd(f *Factory) *cobra.Command {
	opts := &keyInspectOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "inspect [KEYID...|-]",
		Short: "Say what an access key ID is and which account it belongs to, offline",
		Long: `Inspect access key IDs without contacting AWS: the kind of identifier its prefix
names (AKIA long-term key, ASIA temporary key, AIDA user, AROA role, ...),
whether it is well formed, and the 12-digit account it belongs to, decoded
from the ID itself (keys issued since about 2019 carry it).

IDs come from the arguments, or from stdin (one or more per line) when there
are none or the argument is "-". Exit 2 if any ID is malformed.`,
		Example: `  keywarden key inspect ASIAY34FZKBOKMUTVV7A
  keywarden key inspect --format json AKIAIOSFODNN7EXAMPLE
  grep -o 'AKIA[A-Z2-7]\{16\}' app.log | keywarden key inspect -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IDs = args
			return runKeyInspect(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text|json")
	return cmd
}

func runKeyInspect(opts *keyInspectOptions) error {
	format, err := report.ParseFormat(opts.Format, report.FormatText, report.FormatJSON)
	if err != nil {
		return UsageError(err)
	}
	ids := opts.IDs
	if len(ids) == 0 || (len(ids) == 1 && ids[0] == "-") {
		ids = nil
		sc := bufio.NewScanner(opts.IO.In)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			ids = append(ids, strings.Fields(sc.Text())...)
		}
		if err := sc.Err(); err != nil {
			return UsageError(fmt.Errorf("reading stdin: %w", err))
		}
		if len(ids) == 0 {
			return usageErrorf("no key IDs given (pass them as arguments or on stdin)")
		}
	}
	results := make([]awskey.ID, 0, len(ids))
	bad := 0
	for _, id := range ids {
		r := awskey.Inspect(id)
		if !r.WellFormed {
			bad++
			// A secret pasted by mistake must not be echoed; anything else is
			// shown (shortened) so the user can find the bad input.
			if awskey.LooksLikeSecret(id) {
				r.Value = awskey.Redact(id)
			} else if len(r.Value) > 40 {
				r.Value = r.Value[:40] + "..."
			}
			r.Value = report.Printable(r.Value)
		}
		results = append(results, r)
	}
	if format == report.FormatJSON {
		enc := report.NewJSONEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		p := report.NewPalette(opts.IO.ColorEnabled())
		for _, r := range results {
			if !r.WellFormed {
				fmt.Fprintf(opts.IO.Out, "%s  %s: %s\n", r.Value, p.Red("malformed"), r.Problem)
				continue
			}
			acct := r.Account
			if acct == "" {
				acct = "not encoded (an ID issued before about 2019)"
			}
			fmt.Fprintf(opts.IO.Out, "%s  %s\n", p.Bold(r.Value), r.Kind)
			fmt.Fprintf(opts.IO.Out, "  account:    %s\n", acct)
			fmt.Fprintf(opts.IO.Out, "  credential: %s\n", yesNo(r.Credential))
			if r.Example {
				fmt.Fprintf(opts.IO.Out, "  note:       %s\n", p.Yellow("AWS documentation example, not a real key"))
			}
		}
	}
	if bad > 0 {
		return usageErrorf("%d of %d IDs are malformed", bad, len(results))
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

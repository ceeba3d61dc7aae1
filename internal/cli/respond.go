package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/atomicfile"
	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/respond"
	"github.com/spf13/cobra"
)

func init() { register("", 65, newRespondCmd) }

// respondOptions are the inputs of `keywarden respond`.
type respondOptions struct {
	IO     *IOStreams
	Now    func() time.Time
	Getenv func(string) string
	AWS    awsFlags

	From               string
	DryRun             bool
	Yes                bool
	RevokeRoleSessions bool
	ContainCreated     bool
	Quarantine         bool
	DisableConsole     bool
	Delete             bool
	Logs               []string
	NoLookup           bool
	LookupRegions      []string
	Format             string
	Output             string
	Record             string
	Undo               string
	PrintPolicy        bool

	// Clients for tests; nil means build them from the AWS flags.
	clients      *respond.Clients
	lookupClient cloudtrail.LookupAPI
	lookupSleep  func(context.Context, time.Duration) error
	callerKey    string
}

func newRespondCmd(f *Factory) *cobra.Command {
	opts := &respondOptions{IO: f.IO, Now: f.Now, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "respond KEY-ID",
		Short: "Handle a leaked access key: contain it, revoke its sessions, find what it did, report, undo",
		Long: `Handle a leaked AWS access key in one command, in four stages printed as
they happen:

  identify     whose key it is (decoded offline; a key of another account
               stops here), its owner, status, last use, the owner's other
               keys, MFA, password, groups and policies, and what the key
               can do without MFA. An ASIA key is traced (CloudTrail) to
               the key that made it, and that key is handled.
  contain      deactivate the key (never delete: it is evidence); revoke
               every session already issued from it with an inline deny on
               the user for tokens issued before now; deactivate the access
               keys it created (--contain-created, on by default);
               optionally deny the older sessions of the roles it assumed
               (--revoke-role-sessions, asks first unless --yes), attach
               AWSCompromisedKeyQuarantineV3 (--quarantine-policy), remove
               the console password (--disable-console). --dry-run prints
               each call it would make and changes nothing.
  investigate  what the key, its sessions and the keys it created did:
               CloudTrail LookupEvents (90 days, 2 requests a second) and/or
               --logs PATH|s3://...; a timeline, the detect findings for
               these keys, and what they created or changed, each with the
               command that undoes it.
  report       text, --format json|markdown, -o FILE (.md: Markdown).

Every change is recorded with the call that reverses it in a record file
(--record, mode 0600); 'keywarden respond --undo RECORD.json' reverses them
in the opposite order. A second run finds what is already done and changes
nothing. Key IDs are printed in full (they are identifiers); secrets never.

Exit codes: 0 the key is contained and nothing is left to review, 1 the
response is incomplete or left things to review (a root key, a declined
step, resources the key created), 2 usage or input error, or AWS refused a
call (the report says what was and was not done).`,
		Example: `  keywarden respond AKIAY34FZKBOKMUTVV7A --dry-run
  keywarden respond AKIAY34FZKBOKMUTVV7A -o incident.md
  keywarden respond ASIAY34FZKBOKMUTVV7A --logs ./AWSLogs/
  keywarden respond --from scan.json --yes --revoke-role-sessions
  keywarden respond --undo keywarden-respond-AKIAY34FZKBOKMUTVV7A-20260101T120000Z.json
  keywarden respond --print-required-policy`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRespond(cmd.Context(), opts, args)
		},
	}
	fl := cmd.Flags()
	opts.AWS.bind(cmd)
	fl.StringVar(&opts.From, "from", "", "respond to every key of this account named in a scan or detect report `FILE` (JSON or SARIF)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "change nothing: print every call that would be made, with its parameters")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask before steps that affect more than the key (--revoke-role-sessions)")
	fl.BoolVar(&opts.RevokeRoleSessions, "revoke-role-sessions", false, "also deny the sessions issued before now of every role the key assumed (ends other principals' older sessions too)")
	fl.BoolVar(&opts.ContainCreated, "contain-created", true, "deactivate the access keys the key created")
	fl.BoolVar(&opts.Quarantine, "quarantine-policy", false, "attach AWSCompromisedKeyQuarantineV3 to the user, as AWS does")
	fl.BoolVar(&opts.DisableConsole, "disable-console", false, "remove the user's console password (cannot be undone: a new one must be set)")
	fl.BoolVar(&opts.Delete, "delete", false, "delete the key, once an earlier run deactivated it and the investigation is over (cannot be undone)")
	fl.StringArrayVar(&opts.Logs, "logs", nil, "CloudTrail logs to investigate: a file, directory or s3://bucket/prefix `PATH` (repeatable)")
	fl.StringArrayVar(&opts.LookupRegions, "lookup-region", nil, "LookupEvents in this `REGION` (repeatable; default: --region and us-east-1; the region IAM says the key was last used in is always added)")
	fl.BoolVar(&opts.NoLookup, "no-lookup", false, "do not call the CloudTrail LookupEvents API")
	fl.StringVar(&opts.Format, "format", "text", "output format: text|json|markdown")
	fl.StringVarP(&opts.Output, "output", "o", "", "write the report to `FILE` (mode 0600; .md is Markdown, .json JSON, else --format)")
	fl.StringVar(&opts.Record, "record", "", "write the JSON record of the changes (for --undo) to `FILE` (with --from, FILE-KEY.json per key; default keywarden-respond-KEY-TIME.json when anything changed)")
	fl.StringVar(&opts.Undo, "undo", "", "reverse the changes recorded in `REPORT.json`, in the opposite order")
	fl.BoolVar(&opts.PrintPolicy, "print-required-policy", false, "print the least-privilege IAM policy respond needs (read-only with --dry-run), and exit")
	return cmd
}

var respondFormats = []report.Format{report.FormatText, report.FormatJSON, "markdown"}

func runRespond(ctx context.Context, opts *respondOptions, args []string) error {
	if opts.PrintPolicy {
		b, err := respond.RequiredPolicy(!opts.DryRun).Marshal()
		if err != nil {
			return err
		}
		_, err = opts.IO.Out.Write(b)
		return err
	}
	format, err := report.ParseFormat(opts.Format, respondFormats...)
	if err != nil {
		return UsageError(err)
	}
	if opts.Output != "" {
		switch strings.ToLower(filepath.Ext(opts.Output)) {
		case ".md", ".markdown":
			format = "markdown"
		case ".json":
			format = report.FormatJSON
		}
	}
	modes := 0
	for _, on := range []bool{len(args) == 1, opts.From != "", opts.Undo != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return usageErrorf("name one KEY-ID, or --from FILE, or --undo REPORT.json")
	}
	clients, err := opts.buildClients(ctx)
	if err != nil {
		return UsageError(fmt.Errorf("AWS configuration: %w", err))
	}
	if opts.Undo != "" {
		return respondUndo(ctx, opts, clients, format)
	}
	keys := args
	if opts.From != "" {
		if keys, err = respondFromKeys(ctx, opts, clients); err != nil {
			return err
		}
	} else if err := respond.CheckID(args[0]); err != nil {
		return UsageError(err)
	}

	var reps []*respond.Report
	var firstErr error
	for _, key := range keys {
		rep, err := opts.respondOne(ctx, clients, key)
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s: %s\n", key, respond.P(err.Error()))
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if err := opts.render(reps, format); err != nil {
		return err
	}
	if firstErr != nil {
		var done int
		for _, r := range reps {
			for _, s := range r.Steps {
				if s.Status == respond.Done {
					done++
				}
			}
		}
		if !respond.IsInput(firstErr) {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: the response stopped: %d change(s) were made before it (listed above with their undo); the steps marked not-done were not made\n", done)
		}
		return &ExitErr{Code: ExitError}
	}
	for _, r := range reps {
		if respond.Incomplete(r) {
			return ErrFindings()
		}
	}
	return nil
}

// respondOne runs the response for one key and writes its record.
func (opts *respondOptions) respondOne(ctx context.Context, clients respond.Clients, key string) (*respond.Report, error) {
	ropt := respond.Options{
		Now: opts.Now, DryRun: opts.DryRun, Version: Version,
		Plan:    respond.PlanOptions{ContainCreated: opts.ContainCreated, RevokeRoleSessions: opts.RevokeRoleSessions, Quarantine: opts.Quarantine, DisableConsole: opts.DisableConsole, Delete: opts.Delete},
		Confirm: opts.confirm, CallerKeyID: opts.callerKey,
		Exposer: audit.NewEngineExposer(), Actions: audit.SensitiveActions(audit.DefaultActions),
		Progress: func(stage, msg string) {
			fmt.Fprintf(opts.IO.ErrOut, "respond: %-11s %s\n", stage, respond.P(msg))
		},
	}
	if !opts.NoLookup {
		ropt.LookupIn = func(region string) *respond.Lookup {
			return &respond.Lookup{Client: opts.lookupClient, Region: region, Now: opts.Now(), Sleep: opts.lookupSleep,
				Progress: func(q string, reqs, events int) {
					fmt.Fprintf(opts.IO.ErrOut, "respond: investigate %s: %d requests, %d events\n", respond.P(q), reqs, events)
				}}
		}
		// IAM and STS's global endpoint log in us-east-1; the key's calls
		// elsewhere only in their region.
		regions := opts.LookupRegions
		if len(regions) == 0 {
			regions = []string{opts.AWS.Region, "us-east-1"}
		}
		for _, r := range regions {
			if r != "" && !slices.ContainsFunc(ropt.Lookups, func(l *respond.Lookup) bool { return l.Region == r }) {
				ropt.Lookups = append(ropt.Lookups, ropt.LookupIn(r))
			}
		}
	}
	if len(opts.Logs) > 0 {
		logs, err := opts.loadLogs(ctx, key)
		if err != nil {
			return nil, err
		}
		ropt.Logs = logs
	}
	rep, err := respond.Run(ctx, clients, key, ropt)
	if rep != nil && !rep.DryRun && changed(rep) {
		path := opts.Record
		switch {
		case path == "":
			path = fmt.Sprintf("keywarden-respond-%s-%s.json", key, rep.Started.Format("20060102T150405Z"))
		case opts.From != "":
			// One record per key: --from may respond to several.
			ext := filepath.Ext(path)
			path = strings.TrimSuffix(path, ext) + "-" + key + ext
		}
		var buf bytes.Buffer
		if werr := respond.WriteJSON(&buf, []*respond.Report{rep}); werr == nil {
			if werr := atomicfile.Write(path, buf.Bytes(), 0o600); werr != nil {
				fmt.Fprintf(opts.IO.ErrOut, "keywarden: could not write the record %s: %v (the report below lists every change and its undo)\n", path, werr)
			} else {
				fmt.Fprintf(opts.IO.ErrOut, "respond: record      every change and its undo written to %s (keywarden respond --undo %s)\n", path, path)
			}
		}
	}
	if err != nil && respond.IsInput(err) {
		return rep, UsageError(err)
	}
	return rep, err
}

func changed(r *respond.Report) bool {
	for _, s := range r.Steps {
		if s.Status == respond.Done || s.Status == respond.Failed {
			return true
		}
	}
	return false
}

// confirm asks before a step that affects more than the key.
func (opts *respondOptions) confirm(s *respond.Step) bool {
	if opts.Yes {
		return true
	}
	if !opts.IO.IsStdinTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "respond: contain     %s needs confirmation (stdin is not a terminal; pass --yes): %s\n", respond.P(s.Call.String()), respond.P(s.Why))
		return false
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s\n  %s\nProceed? [y/N] ", respond.P(s.Why), respond.P(s.Call.Command()))
	line, _ := bufio.NewReader(opts.IO.In).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes"
}

func (opts *respondOptions) buildClients(ctx context.Context) (respond.Clients, error) {
	if opts.clients != nil {
		return *opts.clients, nil
	}
	cfg, err := opts.AWS.load(ctx)
	if err != nil {
		return respond.Clients{}, err
	}
	if opts.lookupClient == nil {
		opts.lookupClient = ctapi.NewFromConfig(cfg)
	}
	if opts.AWS.Region == "" {
		opts.AWS.Region = cfg.Region
	}
	if cfg.Credentials != nil {
		// Responding with the leaked key itself changes the order of the
		// steps (respond.Options.CallerKeyID).
		if cr, err := cfg.Credentials.Retrieve(ctx); err == nil {
			opts.callerKey = cr.AccessKeyID
		}
	}
	return respond.Clients{IAM: inventory.NewIAMClient(cfg), STS: sts.NewFromConfig(cfg)}, nil
}

// loadLogs reads --logs twice (see respond.LoadLogs).
func (opts *respondOptions) loadLogs(ctx context.Context, key string) (*respond.Logs, error) {
	var local []string
	var s3s []*cloudtrail.S3Source
	for _, l := range opts.Logs {
		if !strings.HasPrefix(l, "s3://") {
			local = append(local, l)
			continue
		}
		bucket, prefix, err := cloudtrail.ParseS3URL(l)
		if err != nil {
			return nil, UsageError(err)
		}
		cfg, err := opts.AWS.load(ctx)
		if err != nil {
			return nil, UsageError(fmt.Errorf("AWS configuration: %w", err))
		}
		client := s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.UsePathStyle = opts.AWS.EndpointURL != "" || opts.Getenv("AWS_ENDPOINT_URL") != ""
		})
		s3s = append(s3s, &cloudtrail.S3Source{Client: client, Bucket: bucket, Prefix: prefix})
	}
	var problems []string
	onErr := func(e *cloudtrail.InputError) {
		if len(problems) < 20 {
			problems = append(problems, e.Error())
		}
	}
	open := func() <-chan cloudtrail.Input {
		out := make(chan cloudtrail.Input)
		go func() {
			defer close(out)
			if len(local) > 0 {
				ch := make(chan cloudtrail.Input)
				go cloudtrail.FileInputs(ctx, local, opts.IO.In, ch, onErr, nil)
				for in := range ch {
					out <- in
				}
			}
			for _, s := range s3s {
				ch := make(chan cloudtrail.Input)
				go s.Inputs(ctx, ch, onErr)
				for in := range ch {
					out <- in
				}
			}
		}()
		return out
	}
	logs := respond.LoadLogs(ctx, open, opts.Logs, key, onErr)
	for _, p := range problems {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: skipped: %s\n", respond.P(p))
	}
	if logs.Skipped > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %d unreadable inputs or records skipped in --logs\n", logs.Skipped)
	}
	return logs, nil
}

// respondFromKeys reads --from and keeps the keys of the caller's account.
func respondFromKeys(ctx context.Context, opts *respondOptions, clients respond.Clients) ([]string, error) {
	data, err := readInput(opts.IO, opts.From, respond.MaxReportSize)
	if err != nil {
		return nil, UsageError(err)
	}
	fr, err := respond.ParseFromReport(opts.From, data)
	if err != nil {
		return nil, UsageError(err)
	}
	account, _, err := respond.Caller(ctx, clients.STS)
	if err != nil {
		return nil, &ExitErr{Code: ExitError, Err: err}
	}
	resolved, unresolved, err := respond.ResolveRedacted(ctx, clients.IAM, fr.RedactedIDs)
	if err != nil {
		return nil, &ExitErr{Code: ExitError, Err: err}
	}
	if len(resolved) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "respond: from        %d redacted key IDs matched a key of this account: %s\n", len(resolved), strings.Join(resolved, ", "))
	}
	for _, u := range unresolved {
		fmt.Fprintf(opts.IO.ErrOut, "respond: from        skipped %s\n", respond.P(u))
	}
	var keys []string
	var other []string
	for _, k := range slices.Compact(slices.Sorted(slices.Values(append(fr.Keys, resolved...)))) {
		if a, ok := awskey.AccountID(k); ok && a != account {
			other = append(other, k+" (account "+a+")")
			continue
		}
		keys = append(keys, k)
	}
	fmt.Fprintf(opts.IO.ErrOut, "respond: from        %s (%s): %d findings, %d keys of account %s\n", respond.P(opts.From), fr.Kind, fr.Findings, len(keys), account)
	if len(other) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "respond: from        skipped %d keys of other accounts: %s\n", len(other), strings.Join(other, ", "))
	}
	if fr.Examples > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "respond: from        skipped %d of AWS's documentation example keys\n", fr.Examples)
	}
	if len(keys) == 0 {
		return nil, usageErrorf("%s: no key of account %s to respond to", opts.From, account)
	}
	return keys, nil
}

// respondUndo reverses a record's done steps.
func respondUndo(ctx context.Context, opts *respondOptions, clients respond.Clients, format report.Format) error {
	data, err := readInput(opts.IO, opts.Undo, respond.MaxReportSize)
	if err != nil {
		return UsageError(err)
	}
	prev, err := respond.ReadReport(opts.Undo, data)
	if err != nil {
		return UsageError(err)
	}
	steps, manual := respond.UndoSteps(prev)
	rep := &respond.Report{Tool: "keywarden respond", Version: Version, Started: opts.Now().UTC(), DryRun: opts.DryRun,
		KeyID: prev.KeyID, Subject: prev.Subject, UndoOf: opts.Undo, Steps: steps}
	say := func(s string) { fmt.Fprintf(opts.IO.ErrOut, "respond: undo        %s\n", respond.P(s)) }
	if len(steps) == 0 {
		say("the record lists no change that was made: nothing to undo")
	}
	var runErr error
	if opts.DryRun {
		for _, s := range steps {
			say("would call " + s.Call.String())
		}
	} else {
		runErr = respond.Execute(ctx, clients.IAM, steps, opts.Now, nil, func(s *respond.Step) {
			say(string(s.Status) + ": " + s.Call.String())
		})
	}
	rep.Finished = opts.Now().UTC()
	rep.ToDo = respond.ToDo(rep)
	rep.ToDo = append(rep.ToDo, manual...)
	if err := opts.render([]*respond.Report{rep}, format); err != nil {
		return err
	}
	if runErr != nil {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: undo stopped: %s\n", respond.P(runErr.Error()))
		return &ExitErr{Code: ExitError}
	}
	if len(manual) > 0 {
		return ErrFindings()
	}
	return nil
}

// render writes the reports to stdout or -o.
func (opts *respondOptions) render(reps []*respond.Report, format report.Format) error {
	if len(reps) == 0 {
		return nil
	}
	err := opts.IO.RenderReport(opts.Output, func(w io.Writer, color bool) error {
		switch format {
		case report.FormatJSON:
			return respond.WriteJSON(w, reps)
		case "markdown":
			for i, r := range reps {
				if i > 0 {
					fmt.Fprint(w, "\n---\n\n")
				}
				if err := respond.WriteMarkdown(w, r); err != nil {
					return err
				}
			}
			return nil
		}
		pal := report.NewPalette(color)
		for i, r := range reps {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := respond.WriteText(w, r, pal); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && opts.Output != "" {
		fmt.Fprintf(opts.IO.ErrOut, "respond: report      written to %s\n", opts.Output)
	}
	return err
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/athena"
	"github.com/keywarden/keywarden/internal/cloudtrail/baseline"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("", 60, newDetectCmd) }

// detectOptions are the inputs of `keywarden detect`.
type detectOptions struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time

	Sources        []string
	Lookup         bool
	LookupRegions  []string
	Since, Until   string
	Format         string
	FailOn         string
	IgnoreFile     string
	StatePath      string
	NoState        bool
	Learn          bool
	ListRules      bool
	RulesFile      string
	Workers        int
	ShowSuppressed bool
	Key            string
	// CredentialReport: an IAM credential report, whose keys' last-used
	// dates dormant rules read.
	CredentialReport string
	AWS              awsFlags
	Athena           detectAthenaOptions

	// Clients for tests; nil means build them from the AWS flags.
	S3Client     cloudtrail.S3API
	LookupClient cloudtrail.LookupAPI

	// --guardduty and --notify (detect_alerts.go).
	GuardDuty []string
	Notify    []string
	Hooks     detectAlertHooks
}

func newDetectCmd(f *Factory) *cobra.Command {
	opts := &detectOptions{IO: f.IO, Getenv: f.Getenv, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "detect [SOURCE...]",
		Short: "Find signs of access key abuse in CloudTrail logs",
		Long: `Read CloudTrail records and report what looks like a leaked or misused key,
grouped by key: long-term keys calling sensitive APIs, keys used from new
addresses, networks, regions or tools, logging turned off, admin rights
granted, keys created for other users, GPU instances launched, secrets
harvested, and more (--list-rules).

A SOURCE is a file or directory (read recursively) of CloudTrail JSON in any
shape: {"Records":[...]} as delivered to S3, bare arrays, JSON lines, plain
or .gz; "-" for stdin; or s3://bucket/prefix, listed and streamed from S3
(--since/--until prune the AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD
folders). --lookup reads the LookupEvents API instead (management events of
the last 90 days, at 2 requests a second per region).

First-seen rules compare each key with its baseline, kept in
~/.local/state/keywarden/detect.db (--state, --no-state). --learn builds the
baseline from a period of logs without reporting anything.

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input
errors (unreadable or malformed input: findings are still printed), or
--notify deliveries that failed in a run with nothing at or above --fail-on.`,
		Example: `  keywarden detect ./AWSLogs/
  keywarden detect --since 2024-06-01 --until 2024-07-01 s3://trail-bucket/AWSLogs/
  keywarden detect --lookup --region eu-west-1 --since 7d --format json
  keywarden detect --learn --since 30d s3://trail-bucket/ && keywarden detect --since 1d s3://trail-bucket/
  zcat events.json.gz | keywarden detect --no-state -
  keywarden detect --list-rules`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Sources = args
			return runDetect(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Lookup, "lookup", false, "read management events from the CloudTrail LookupEvents API")
	fl.StringSliceVar(&opts.LookupRegions, "lookup-region", nil, "regions to query with --lookup (default: --region)")
	opts.Athena.bind(fl)
	fl.StringVar(&opts.Since, "since", "", "only events at or after this time (2024-06-01, RFC 3339, or 7d/12h ago)")
	fl.StringVar(&opts.Until, "until", "", "only events before this time (same forms as --since)")
	fl.StringVar(&opts.Format, "format", "text", "output format: text|json (one finding per line)|csv|sarif")
	fl.StringVar(&opts.FailOn, "fail-on", "low", "exit 1 when a finding is at or above this severity: "+report.SeverityNames+"|none")
	fl.StringVar(&opts.IgnoreFile, "ignore", "", "suppression file (YAML: rule, key, address, expires, reason)")
	fl.StringVar(&opts.StatePath, "state", "", "baseline store (default: $XDG_STATE_HOME/keywarden/detect.db or ~/.local/state/keywarden/detect.db)")
	fl.BoolVar(&opts.NoState, "no-state", false, "neither read nor update the baseline store")
	fl.BoolVar(&opts.Learn, "learn", false, "record the sources' activity as the baseline; report nothing")
	fl.StringArrayVar(&opts.GuardDuty, "guardduty", nil, "also show GuardDuty's findings about keys and credentials: exported JSON (file, directory, s3://bucket/prefix) or api (repeatable)")
	fl.StringArrayVar(&opts.Notify, "notify", nil, "send each new finding to an https:// webhook (JSON with a Slack-compatible text) or sns:TOPIC-ARN (repeatable)")
	fl.BoolVar(&opts.ListRules, "list-rules", false, "print the rules and exit")
	fl.StringVar(&opts.RulesFile, "rules", "", "add the rules of this YAML file (the format of the built-in rules.yaml) to the built-in ones")
	fl.IntVar(&opts.Workers, "workers", 0, "files read in parallel (default: CPUs; 16 for s3://)")
	fl.BoolVar(&opts.ShowSuppressed, "show-suppressed", false, "list suppressed findings too")
	fl.StringVar(&opts.Key, "key", "", "only findings about this access key ID and the keys and sessions derived from it (keys it created, sessions it obtained)")
	fl.StringVar(&opts.CredentialReport, "credential-report", "", "IAM credential report (CSV, or the JSON of aws iam get-credential-report): its keys' last-used dates tell dormant keys without a stored baseline")
	opts.AWS.bind(cmd)
	return cmd
}

// detectParseTime reads --since/--until: a date, an RFC 3339 time, or a
// duration back from now (7d, 12h, 30m).
func detectParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.Add(-time.Duration(d) * 24 * time.Hour).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("cannot read time %q (want 2024-06-01, RFC 3339, or 7d / 12h ago)", s)
}

func runDetect(ctx context.Context, opts *detectOptions) error {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	rules := detect.Builtin()
	if opts.RulesFile != "" {
		data, err := readInput(opts.IO, opts.RulesFile, 4<<20)
		if err != nil {
			return detectInputErr(err)
		}
		extra, err := detect.Parse(data)
		if err != nil {
			return detectInputErr(fmt.Errorf("%s: %w", opts.RulesFile, err))
		}
		if rules, err = detect.Combine(rules, extra); err != nil {
			return detectInputErr(fmt.Errorf("%s: %w", opts.RulesFile, err))
		}
	}
	if opts.ListRules {
		return detectListRules(opts, rules)
	}
	if done, err := detectAthenaEarly(ctx, opts, rules, now()); done {
		return err
	}
	format := strings.ToLower(opts.Format)
	if format != "text" && format != "json" && format != "csv" && format != "sarif" {
		return usageErrorf("unknown format %q (want text|json|csv|sarif)", opts.Format)
	}
	failOn, err := report.ParseSeverity(opts.FailOn)
	if err != nil {
		return UsageError(fmt.Errorf("--fail-on: %w", err))
	}
	since, err := detectParseTime(opts.Since, now())
	if err != nil {
		return UsageError(fmt.Errorf("--since: %w", err))
	}
	until, err := detectParseTime(opts.Until, now())
	if err != nil {
		return UsageError(fmt.Errorf("--until: %w", err))
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return usageErrorf("--since must be before --until")
	}
	if opts.Key != "" && (len(opts.Key) < 16 || len(opts.Key) > 128 || strings.ContainsAny(opts.Key, " *")) {
		return usageErrorf("--key %q: want a full access key ID such as AKIAIOSFODNN7EXAMPLE", report.Printable(opts.Key))
	}
	if opts.Learn && opts.NoState {
		return usageErrorf("--learn needs the state store: drop --no-state")
	}
	if err := detectGuardDutySources(opts.GuardDuty); err != nil {
		return err
	}
	targets, err := detectNotifyTargets(ctx, opts)
	if err != nil {
		return err
	}
	var ignores []*detect.IgnoreEntry
	if opts.IgnoreFile != "" {
		data, err := readInput(opts.IO, opts.IgnoreFile, 1<<20)
		if err != nil {
			return detectInputErr(err)
		}
		if ignores, err = detect.ParseIgnore(data); err != nil {
			return detectInputErr(fmt.Errorf("%s: %w", opts.IgnoreFile, err))
		}
	}
	statePath := opts.StatePath
	if !opts.NoState && statePath == "" {
		if statePath, err = baseline.DefaultPath(getenv); err != nil {
			return UsageError(err)
		}
	}
	sources := opts.Sources
	if len(sources) == 0 && !opts.Lookup && !opts.Athena.active() {
		if opts.IO.IsStdinTTY() {
			return usageErrorf("no sources: name files, directories, s3:// URLs or - (stdin), or use --lookup; for example: keywarden detect ./AWSLogs/")
		}
		sources = []string{"-"}
	}
	reported, err := detectReadCredentialReport(opts)
	if err != nil {
		return err
	}
	srcs, err := detectBuildSources(ctx, opts, rules, sources, since, until, now(), getenv)
	if err != nil {
		return err
	}
	engine, err := detect.New(rules, detect.Options{Since: since, Until: until, Lineage: opts.Key != "", Reported: reported,
		KeyWeights: srcs.keyWeights()})
	if err != nil {
		return err
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
		if len(srcs.s3) > 0 {
			workers = 16
		}
	}

	// Errors: every input problem is kept (and printed), none stops the run.
	errs := &detectErrors{}
	onErr := errs.add
	var st cloudtrail.Stats

	inputs := make(chan cloudtrail.Input, workers)
	go func() {
		defer close(inputs)
		srcs.feed(ctx, opts.IO.In, inputs, onErr, &st)
		for _, l := range srcs.lookups {
			inputs <- l.Input()
		}
		for _, a := range srcs.athena {
			inputs <- a.Input()
		}
	}()

	ws := make([]*detect.Worker, workers)
	for i := range ws {
		ws[i] = engine.NewWorker()
	}
	stop := detectProgress(opts.IO, &st)
	start := time.Now()
	cloudtrail.Process(ctx, inputs, workers, func(w int, r *cloudtrail.Record) { ws[w].Observe(r) }, onErr, &st)
	stop()
	elapsed := time.Since(start)
	detectAthenaSummary(opts.IO, srcs.athena, onErr)
	res := engine.Merge(ws...)

	// A store that cannot be used costs the baseline, not the findings:
	// they are judged as with --no-state, printed, and the run exits 2.
	var prior map[string]*detect.Baseline
	var stateErr error
	if !opts.NoState {
		prior, stateErr = baseline.Exchange(statePath, res.Keys(), res.Observations(true), false)
	}

	summary := fmt.Sprintf("read %d events from %d inputs in %s", res.Seen, st.Inputs.Load(), elapsed.Round(time.Millisecond))
	if res.Skipped > 0 {
		summary += fmt.Sprintf(" (%d outside --since/--until)", res.Skipped)
	}
	if res.Duplicates > 0 {
		summary += fmt.Sprintf("; %s counted once", detectPlural(int(res.Duplicates), "duplicate record (same eventID)", "duplicate records (same eventID)"))
	}
	if res.DedupFull {
		summary += fmt.Sprintf("; duplicates checked among the first %d distinct events only", detect.MaxDedupEvents)
	}
	if res.FactsFull {
		summary += fmt.Sprintf("; only the first %d log buckets, admin roles and KMS keys in use were learnt per worker", detect.MaxFacts)
	}
	problems := detectProblems{errs: errs, st: &st, state: stateErr}
	if opts.Learn {
		if stateErr == nil {
			summary += fmt.Sprintf("; baseline of %d long-term keys updated in %s", res.LongTermKeys(), report.Printable(statePath))
		}
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", summary)
		return problems.report(opts.IO)
	}

	findings := detectMergeFindings(res.Findings(prior), detectGuardDuty(ctx, opts, since, until, getenv, errs))
	if opts.Key != "" {
		keep := res.Lineage(opts.Key)
		findings = detect.FilterActors(findings, keep)
		summary += fmt.Sprintf("; --key: %s", detectPlural(len(keep), "key or session", "keys and sessions"))
	}
	for _, e := range detect.ApplyIgnore(findings, ignores, now()) {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s: %s expired on %s and no longer suppresses anything\n", report.Printable(opts.IgnoreFile), report.Printable(e.Where()), e.Expires)
	}
	switch format {
	case "json":
		err = detectWriteJSON(opts.IO.Out, findings, opts.ShowSuppressed)
	case "csv":
		err = detectWriteCSV(opts.IO.Out, findings, opts.ShowSuppressed)
	case "sarif":
		err = detectWriteSARIF(opts.IO.Out, rules, findings)
	default:
		err = detectWriteText(opts.IO.Out, findings, opts.ShowSuppressed, opts.IO.ColorEnabled(), problems.caveat())
	}
	if err != nil {
		return err
	}
	// Stdout is complete before any alert is sent: a failing webhook
	// costs the alert, never the report.
	undelivered := detectNotify(ctx, opts, targets, findings, statePath, stateErr == nil, now())
	fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", summary)
	if err := problems.report(opts.IO); err != nil {
		return err
	}
	for _, f := range findings {
		if f.Suppressed == "" && f.Rule.Severity >= failOn {
			return ErrFindings()
		}
	}
	if undelivered > 0 {
		return &ExitErr{Code: ExitError, Err: fmt.Errorf("%s not delivered", detectPlural(undelivered, "finding", "findings"))}
	}
	return nil
}

// detectReadCredentialReport reads --credential-report with the audit's
// parser and says how many users it could not use.
func detectReadCredentialReport(opts *detectOptions) (map[string]detect.KeyUse, error) {
	if opts.CredentialReport == "" {
		return nil, nil
	}
	if opts.CredentialReport == "-" && (slices.Contains(opts.Sources, "-") || (len(opts.Sources) == 0 && !opts.Lookup)) {
		return nil, usageErrorf("--credential-report - and CloudTrail records from stdin cannot share it: name a file for one of them")
	}
	data, err := readInput(opts.IO, opts.CredentialReport, inventory.MaxCredentialReportSize)
	if err != nil {
		return nil, detectInputErr(err)
	}
	rep, err := inventory.ParseCredentialReport(opts.CredentialReport, data)
	if err != nil {
		return nil, detectInputErr(err)
	}
	use, skipped := detect.ReportedUse(rep)
	if skipped > 0 {
		why := "their keys' last use is not recorded (no_information)"
		if !rep.HasLastUsed {
			why = "the report has no last-used columns (a report from before 2015)"
		}
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s: %s not used: %s\n", report.Printable(opts.CredentialReport), detectPlural(skipped, "user with keys", "users with keys"), why)
	}
	return use, nil
}

// detectSources are a run's inputs: local paths (and stdin), S3 prefixes
// and LookupEvents regions.
type detectSources struct {
	local   []string
	s3      []*cloudtrail.S3Source
	lookups []*cloudtrail.LookupSource
	athena  []*athena.Source
}

// feed sends the inputs of the local paths, then of the S3 prefixes, to
// out (which it leaves open). st may be nil.
func (s *detectSources) feed(ctx context.Context, stdin io.Reader, out chan<- cloudtrail.Input, onErr func(*cloudtrail.InputError), st *cloudtrail.Stats) {
	if len(s.local) > 0 {
		ch := make(chan cloudtrail.Input)
		go cloudtrail.FileInputs(ctx, s.local, stdin, ch, onErr, st)
		for in := range ch {
			out <- in
		}
	}
	for _, src := range s.s3 {
		ch := make(chan cloudtrail.Input)
		go src.Inputs(ctx, ch, onErr)
		for in := range ch {
			out <- in
		}
	}
}

// detectBuildSources sorts the arguments into local paths and s3:// URLs
// and builds the AWS clients the S3 and LookupEvents sources need (loading
// the AWS configuration only when one does).
func detectBuildSources(ctx context.Context, opts *detectOptions, rules []*detect.Rule, sources []string, since, until, now time.Time, getenv func(string) string) (*detectSources, error) {
	srcs := &detectSources{}
	var cfg *aws.Config
	loadCfg := func() (aws.Config, error) {
		if cfg != nil {
			return *cfg, nil
		}
		c, err := opts.AWS.load(ctx)
		if err != nil {
			return c, err
		}
		cfg = &c
		return c, nil
	}
	if opts.Athena.active() {
		var err error
		if srcs.athena, err = detectAthenaSources(ctx, opts, rules, loadCfg, now, getenv); err != nil {
			return nil, err
		}
	}
	for _, s := range sources {
		if !strings.HasPrefix(s, "s3://") {
			srcs.local = append(srcs.local, s)
			continue
		}
		bucket, prefix, err := cloudtrail.ParseS3URL(s)
		if err != nil {
			return nil, detectInputErr(err)
		}
		client := opts.S3Client
		if client == nil {
			c, err := loadCfg()
			if err != nil {
				return nil, UsageError(fmt.Errorf("AWS configuration: %w", err))
			}
			client = opts.AWS.s3Client(c, getenv)
		}
		srcs.s3 = append(srcs.s3, &cloudtrail.S3Source{Client: client, Bucket: bucket, Prefix: prefix, Since: since, Until: until})
	}
	if opts.Lookup {
		client := opts.LookupClient
		regions := opts.LookupRegions
		if client == nil || len(regions) == 0 {
			c, err := loadCfg()
			if err != nil {
				return nil, UsageError(fmt.Errorf("AWS configuration: %w", err))
			}
			if client == nil {
				client = ctapi.NewFromConfig(c)
			}
			if len(regions) == 0 {
				regions = []string{c.Region}
			}
		}
		for _, r := range regions {
			l := &cloudtrail.LookupSource{Client: client, Region: r, Since: since, Until: until, Now: now}
			if _, _, clamped := l.Window(); clamped {
				fmt.Fprintf(opts.IO.ErrOut, "keywarden: LookupEvents keeps 90 days: reading %s from %s\n", r, now.Add(-cloudtrail.LookupWindow).UTC().Format(time.RFC3339))
			}
			srcs.lookups = append(srcs.lookups, l)
		}
	}

	return srcs, nil
}

// detectErrors collects input problems from every worker, up to a limit,
// and the inputs they came from.
type detectErrors struct {
	mu      sync.Mutex
	list    []string
	dropped int
	sources map[string]bool
}

func (d *detectErrors) add(e *cloudtrail.InputError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sources == nil {
		d.sources = map[string]bool{}
	}
	d.sources[e.Source] = true
	if len(d.list) >= 1000 {
		d.dropped++
		return
	}
	d.list = append(d.list, awsErrorLine(e))
}

// detectInputErr is a usage error whose message quotes the command line
// or a file's content: Main prints it as is, so controls go here.
func detectInputErr(err error) error {
	return UsageError(errors.New(report.Printable(err.Error())))
}

// detectProblems is what went wrong besides findings: input errors,
// inputs without a single record, a state store that could not be used.
type detectProblems struct {
	errs  *detectErrors
	st    *cloudtrail.Stats
	state error
}

// caveat qualifies the text summary line, so that "no findings" never
// stands alone when part of the input was not read.
func (p detectProblems) caveat() string {
	var parts []string
	if n := len(p.errs.sources); n > 0 {
		parts = append(parts, detectPlural(n, "input", "inputs")+" could not be read in full (see stderr)")
	}
	if p.st.Records.Load() == 0 {
		parts = append(parts, "no CloudTrail records were read")
	}
	if p.state != nil {
		parts = append(parts, "judged without the baseline (see stderr)")
	}
	return strings.Join(parts, "; ")
}

// report prints the problems on stderr and turns them into exit 2.
func (p detectProblems) report(io *IOStreams) error {
	d := p.errs
	sort.Strings(d.list) // workers report in any order
	for _, e := range d.list {
		fmt.Fprintf(io.ErrOut, "keywarden: %s\n", e)
	}
	if d.dropped > 0 {
		fmt.Fprintf(io.ErrOut, "keywarden: ... and %d more input errors\n", d.dropped)
	}
	var why []string
	if n := len(d.list) + d.dropped; n > 0 {
		why = append(why, fmt.Sprintf("%s in %s", detectPlural(n, "input error", "input errors"), detectPlural(len(d.sources), "input", "inputs")))
	}
	if n := p.st.NotRecords.Load(); n > 0 {
		fmt.Fprintf(io.ErrOut, "keywarden: skipped %s without eventName, eventTime or eventSource (not CloudTrail records)\n", detectPlural(int(n), "JSON object", "JSON objects"))
	}
	if empty := p.st.Empty(); len(empty) > 0 {
		const show = 20
		fmt.Fprintf(io.ErrOut, "keywarden: warning: no CloudTrail records in %s:\n", detectPlural(len(empty), "input", "inputs"))
		for _, e := range empty[:min(len(empty), show)] {
			fmt.Fprintf(io.ErrOut, "keywarden:   %s\n", report.Printable(e))
		}
		if len(empty) > show {
			fmt.Fprintf(io.ErrOut, "keywarden:   ... and %d more\n", len(empty)-show)
		}
	}
	if p.st.Records.Load() == 0 {
		why = append(why, "no CloudTrail records were read")
	}
	if p.state != nil {
		fmt.Fprintf(io.ErrOut, "keywarden: %s\n", report.Printable(p.state.Error()))
		why = append(why, "state store not used")
	}
	if len(why) == 0 {
		return nil
	}
	return &ExitErr{Code: ExitError, Err: errors.New(strings.Join(why, "; "))}
}

func detectPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// detectProgress draws a progress line on stderr when it is a terminal.
func detectProgress(io *IOStreams, st *cloudtrail.Stats) (stop func()) {
	return io.StartProgress(500*time.Millisecond, func() string {
		return fmt.Sprintf("%d inputs, %d events", st.Inputs.Load(), st.Records.Load())
	})
}

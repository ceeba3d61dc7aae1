package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/atomicfile"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/secretscan"
	"github.com/keywarden/keywarden/internal/secretscan/stsverify"
	"github.com/spf13/cobra"
)

func init() { register("", 20, newScanCmd) }

// scanOptions are the inputs of `keywarden scan`.
type scanOptions struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time

	Paths []string

	// Sources.
	Git         bool
	Staged      bool
	PrePush     bool
	Repo        string
	Excludes    []string
	Gitignore   bool
	MaxFileSize string
	Archives    bool
	Workers     int
	GitOptions  scanGitOptions

	// Detection and noise control.
	AWSCredentials bool
	Baseline       string
	WriteBaseline  string
	ShowSecrets    bool
	ShowSuppressed bool
	FailOn         string

	// Verification.
	Verify         bool
	VerifyCanaries bool
	VerifyTimeout  time.Duration
	VerifyRate     float64
	// AWS holds --profile, --region and --endpoint-url: for s3://
	// sources, and the STS endpoint of --verify.
	AWS awsFlags
	// S3Client replaces the client built from AWS (tests).
	S3Client cloudtrail.S3API
	// Since skips S3 objects last modified before it.
	Since string

	// Output.
	Format     string
	ReportFile string
	// Quiet prints no text at all when nothing needs acting on, so a
	// clean commit passes the hook silently.
	Quiet bool
}

func newScanCmd(f *Factory) *cobra.Command {
	opts := &scanOptions{IO: f.IO, Getenv: f.Getenv, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "scan [PATH...|-]",
		Short: "Find AWS credentials in files, stdin, staged changes or git history",
		Long: `Scan for AWS credentials: access key IDs (AKIA, ASIA, ABIA, ACCA), secret
access keys, session tokens, and the pairs they form, Amazon Bedrock API keys
(ABSK…, bedrock-api-key-…), in any common syntax
(credentials files, .env, shell, JSON, YAML, HCL/Terraform, properties, code,
URLs, Docker and Kubernetes env). A pair is one finding; a lone key ID is
reported (it names an account and a user); a lone secret only where its name
says AWS. AWS's documentation examples are reported as examples and never fail
the scan. Each finding carries the account decoded offline from the key ID.

Sources: files and directories (default "."; .git, binary files and files over
--max-file-size are skipped, and said on stderr), named pipes and /dev/stdin
(read as streams), stdin ("-"), --staged (what is about to be
committed: the pre-commit hook), --git [REV-RANGE] (every blob of the history of
every ref, or of the range, each attributed to the commit that introduced it),
s3://BUCKET/PREFIX (the objects under the prefix, streamed; --since skips older
ones; --profile, --region, --endpoint-url choose the client).

Nothing is sent anywhere unless --verify: then each complete pair is checked
with a signed sts:GetCallerIdentity (live / revoked / invalid, and the ARN),
except keys of known canary-token accounts.

Secrets are redacted in every output unless --show-secrets. Silence a line with
a "keywarden:allow" comment, or accept known findings with a baseline
(--write-baseline FILE, then --baseline FILE): entries are hashes of the secret
and the path, so they survive line moves and hold no secret.

Exit codes: 0 clean, 1 findings (not examples, allowed or baselined), 2 errors.`,
		Example: `  keywarden scan
  keywarden scan src/ config/ --exclude 'testdata/**'
  cat deploy.log | keywarden scan -
  keywarden scan --staged
  keywarden scan --git                      # every ref's whole history
  keywarden scan --git main..feature --format sarif --report keys.sarif
  keywarden scan --archives --since 30d s3://backups/home/
  keywarden scan --write-baseline .keywarden-baseline.json
  keywarden scan --baseline .keywarden-baseline.json --verify`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			return runScan(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Git, "git", false, "scan git history: every blob of every ref, or of the REV-RANGE given as argument")
	fl.BoolVar(&opts.Staged, "staged", false, "scan what is staged for the next commit (for the pre-commit hook)")
	fl.BoolVar(&opts.PrePush, "pre-push", false, "scan the commits of a push, read from a pre-push hook's stdin")
	fl.StringVar(&opts.Repo, "repo", ".", "the git repository for --git, --staged and --pre-push")
	fl.StringArrayVar(&opts.Excludes, "exclude", nil, "skip paths matching this glob (.gitignore syntax; repeatable)")
	fl.BoolVar(&opts.Gitignore, "gitignore", false, "skip what .gitignore files exclude (files and directories; not with --git, --staged, --pre-push)")
	fl.StringVar(&opts.MaxFileSize, "max-file-size", "10MB", "skip files (and blobs, archive entries) larger than this")
	fl.BoolVar(&opts.Archives, "archives", false, "look inside .zip, .jar, .tar and .tar.gz files, compressed files (.gz, .bz2, .xz, .zst) and the printable strings of binary files")
	fl.IntVarP(&opts.Workers, "workers", "j", 0, "files read at once (default: one per CPU)")
	fl.BoolVar(&opts.AWSCredentials, "aws-credentials", false, "also catch your own key IDs (of ~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE, and of keywarden's store) in any form")
	fl.StringVar(&opts.Baseline, "baseline", "", "accept the findings listed in this baseline file")
	fl.StringVar(&opts.WriteBaseline, "write-baseline", "", "write the findings to this baseline file (0600) and accept them")
	fl.BoolVar(&opts.ShowSecrets, "show-secrets", false, "print secrets in clear (redacted otherwise)")
	fl.BoolVar(&opts.ShowSuppressed, "show-suppressed", false, "list findings suppressed by a baseline or keywarden:allow in text output")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "text output: print nothing when no finding counts (the hooks use it)")
	fl.StringVar(&opts.FailOn, "fail-on", "medium", "exit 1 only for findings at or above this severity: "+report.SeverityNames+"|none")
	fl.BoolVar(&opts.Verify, "verify", false, "ask STS (GetCallerIdentity) whether each complete key pair is live, and whose it is")
	fl.BoolVar(&opts.VerifyCanaries, "verify-canaries", false, "with --verify, also send keys of known canary-token accounts (this sets them off)")
	fl.DurationVar(&opts.VerifyTimeout, "verify-timeout", 10*time.Second, "time limit for each verification request")
	fl.Float64Var(&opts.VerifyRate, "verify-rate", 2, "at most this many verification requests per second")
	opts.AWS.bind(cmd)
	fl.StringVar(&opts.Since, "since", "", "s3:// sources: skip objects last modified before this time (2024-06-01, RFC 3339, or 7d/12h ago)")
	fl.StringVar(&opts.Format, "format", "text", "output format: text|json|sarif")
	fl.StringVar(&opts.ReportFile, "report", "", "write the output to this file (0600) instead of stdout")
	addScanGitFlags(cmd, &opts.GitOptions)
	return cmd
}

// scanTool names keywarden in JSON and SARIF output.
func scanTool() report.Tool {
	return report.Tool{Name: "keywarden scan", Version: Version, InfoURI: "https://github.com/keywarden/keywarden"}
}

// scanCollector gathers findings from concurrent sources. For git history
// it keeps one finding per fingerprint (rule, secret, path): the one from
// the earliest commit.
type scanCollector struct {
	mu       sync.Mutex
	findings []report.Finding
	byFP     map[string]int
	seen     map[string]int // how many blobs held each fingerprint
	pairs    map[int]scanPair
	errs     []string
	notices  []string // inputs named explicitly that were skipped
	opt      secretscan.FindingOptions
}

// scanPair keeps a pair's clear values for --verify, out of the finding.
type scanPair struct{ id, secret, token string }

func (c *scanCollector) add(o secretscan.Origin, ms []secretscan.Match) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range ms {
		f := secretscan.ToFinding(m, o, c.opt)
		if i, ok := c.byFP[f.Fingerprint]; ok {
			c.seen[f.Fingerprint]++
			old := c.findings[i]
			if o.Commit != "" && (old.Location.Date == "" || f.Location.Date < old.Location.Date) {
				c.findings[i] = f
			}
			continue
		}
		c.byFP[f.Fingerprint] = len(c.findings)
		c.seen[f.Fingerprint] = 1
		if m.Kind == secretscan.KindPair && !m.Example {
			c.pairs[len(c.findings)] = scanPair{m.KeyID, m.Secret, m.Token}
		}
		c.findings = append(c.findings, f)
	}
}

func (c *scanCollector) warn(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err.Error())
}

// skip records the notice for an input named explicitly that was skipped.
func (c *scanCollector) skip(path string, r secretscan.SkipReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := scanSkipTexts[r]
	n := fmt.Sprintf("skipped %s: %s", report.Printable(path), t.what)
	if r == secretscan.SkipTruncated {
		n = fmt.Sprintf("scanned only the start of %s: %s", report.Printable(path), t.what)
	}
	if t.how != "" {
		n += " (" + t.how + ")"
	}
	c.notices = append(c.notices, n)
}

// scanSkipTexts says why an input was skipped, and how to include it.
var scanSkipTexts = [secretscan.NumSkipReasons]struct{ what, how string }{
	secretscan.SkipBinary:        {"binary", "--archives reads their printable strings"},
	secretscan.SkipTooLarge:      {"larger than --max-file-size", "raise --max-file-size to scan it"},
	secretscan.SkipArchive:       {"an archive or compressed file", "add --archives to look inside"},
	secretscan.SkipExtension:     {"a binary file type", ""},
	secretscan.SkipExcluded:      {"excluded by --exclude", ""},
	secretscan.SkipIgnored:       {"ignored by .gitignore", "drop --gitignore to scan it"},
	secretscan.SkipGitDir:        {".git directory", "--git scans history"},
	secretscan.SkipSpecial:       {"not a regular file (FIFO, socket, device)", "name it to read it as a stream"},
	secretscan.SkipSymlink:       {"symbolic link", "name it to follow it"},
	secretscan.SkipNested:        {"archive nested too deep", ""},
	secretscan.SkipUnsupported:   {"archive entry that cannot be opened", ""},
	secretscan.SkipTruncated:     {"longer than --max-file-size", "raise --max-file-size to read it all"},
	secretscan.SkipMissingObject: {"git blob missing from the repository", "listed on stderr; git fsck says more"},
	secretscan.SkipOlder:         {"older than --since", ""},
}

// scanSkips returns the skip counts by reason (those not zero, in order),
// and the skips the git sources made, which carry no reason.
func scanSkips(st *secretscan.Stats) (by []scanSkipCount, other int64) {
	other = st.Skipped.Load()
	for r := secretscan.SkipReason(0); r < secretscan.NumSkipReasons; r++ {
		if n := st.SkippedBy[r].Load(); n > 0 {
			by = append(by, scanSkipCount{r, n})
			other -= n
		}
	}
	return by, max(other, 0)
}

type scanSkipCount struct {
	reason secretscan.SkipReason
	n      int64
}

// scanSkipSummary says how many inputs a scan skipped, by reason:
// "skipped 3: 2 binary, 1 larger than --max-file-size (raise ...)", or ""
// when none was.
func scanSkipSummary(st *secretscan.Stats) string {
	total := st.Skipped.Load()
	if total == 0 {
		return ""
	}
	by, other := scanSkips(st)
	var parts []string
	for _, c := range by {
		p := fmt.Sprintf("%d %s", c.n, scanSkipTexts[c.reason].what)
		if h := scanSkipTexts[c.reason].how; h != "" {
			p += " (" + h + ")"
		}
		parts = append(parts, p)
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", other))
	}
	return fmt.Sprintf("skipped %d: %s", total, strings.Join(parts, ", "))
}

// scanSkipCounts is the JSON summary's "skipped": counts by reason.
func scanSkipCounts(st *secretscan.Stats) map[string]int64 {
	out := map[string]int64{}
	by, other := scanSkips(st)
	for _, c := range by {
		out[c.reason.String()] = c.n
	}
	if other > 0 {
		out["other"] = other
	}
	return out
}

// scanJSONDoc is report.Document with the scan's counts in its summary:
// items scanned, skipped by reason, and inputs that could not be read.
type scanJSONDoc struct {
	Tool     string           `json:"tool"`
	Version  string           `json:"version"`
	Findings []report.Finding `json:"findings"`
	Summary  scanJSONSummary  `json:"summary"`
	Errors   []string         `json:"errors,omitempty"`
}

type scanJSONSummary struct {
	report.Summary
	Scanned    int64            `json:"scanned"`
	Skipped    map[string]int64 `json:"skipped"`
	Unreadable int              `json:"unreadable"`
}

func scanWriteJSON(w io.Writer, findings []report.Finding, errs []string, st *secretscan.Stats) error {
	if findings == nil {
		findings = []report.Finding{}
	}
	t := scanTool()
	doc := scanJSONDoc{Tool: t.Name, Version: t.Version, Findings: findings, Errors: errs,
		Summary: scanJSONSummary{Summary: report.Summarize(findings), Scanned: st.Files.Load(),
			Skipped: scanSkipCounts(st), Unreadable: len(errs)}}
	enc := report.NewJSONEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// scanSummaryLine is report.SummaryLine, which never says "no findings"
// alone when an input could not be read.
func scanSummaryLine(fs []report.Finding, p report.Palette, unreadable int) string {
	line := report.SummaryLine(fs, p)
	if unreadable == 0 {
		return line
	}
	noun := "inputs"
	if unreadable == 1 {
		noun = "input"
	}
	return fmt.Sprintf("%s in what could be read; %d %s could not be read: the scan is incomplete", line, unreadable, noun)
}

func runScan(ctx context.Context, opts *scanOptions) error {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	format, err := report.ParseFormat(opts.Format, report.FormatText, report.FormatJSON, report.FormatSARIF)
	if err != nil {
		return UsageError(err)
	}
	failOn, err := report.ParseSeverity(opts.FailOn)
	if err != nil {
		return UsageError(fmt.Errorf("--fail-on: %w", err))
	}
	maxSize, err := scanParseSize(opts.MaxFileSize)
	if err != nil {
		return UsageError(fmt.Errorf("--max-file-size: %w", err))
	}
	modes := 0
	for _, b := range []bool{opts.Git, opts.Staged, opts.PrePush} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		return usageErrorf("--git, --staged and --pre-push exclude each other")
	}
	if opts.GitOptions.Unreachable && !opts.Git {
		return usageErrorf("--unreachable goes with --git and no REV-RANGE (use --repo for another repository)")
	}
	if opts.Git && len(opts.Paths) > 1 {
		return usageErrorf("--git takes at most one REV-RANGE argument (quote it if it has spaces); use --repo for the repository")
	}
	if (opts.Staged || opts.PrePush) && len(opts.Paths) > 0 {
		return usageErrorf("--staged and --pre-push take no PATH arguments; use --repo for the repository")
	}
	if opts.Gitignore && modes > 0 {
		// Git sources read committed blobs, which .gitignore does not
		// govern (an ignored file that was committed anyway is exactly the
		// leak to find): say so rather than ignore the flag.
		return usageErrorf("--gitignore applies to files and directories only; with --git, --staged or --pre-push use --exclude")
	}
	if opts.Since != "" && (modes > 0 || !slices.ContainsFunc(opts.Paths, func(p string) bool { return strings.HasPrefix(p, "s3://") })) {
		return usageErrorf("--since applies to s3:// sources only")
	}
	if opts.VerifyCanaries && !opts.Verify {
		return usageErrorf("--verify-canaries needs --verify")
	}
	if opts.VerifyRate <= 0 {
		return usageErrorf("--verify-rate must be positive")
	}

	var baseline *secretscan.Baseline
	if opts.Baseline != "" {
		data, err := readInput(opts.IO, opts.Baseline, secretscan.MaxBaselineSize)
		if err != nil {
			return UsageError(fmt.Errorf("--baseline: %w", err))
		}
		if baseline, err = secretscan.ParseBaseline(opts.Baseline, data); err != nil {
			return UsageError(err)
		}
	}

	detOpt := secretscan.Options{}
	if opts.AWSCredentials {
		ids, err := scanOwnKeys(opts)
		if err != nil {
			return UsageError(fmt.Errorf("--aws-credentials: %w", err))
		}
		detOpt.OwnKeyIDs = ids
	}

	col := &scanCollector{byFP: map[string]int{}, seen: map[string]int{}, pairs: map[int]scanPair{},
		opt: secretscan.FindingOptions{ShowSecrets: opts.ShowSecrets}}
	stats := &secretscan.Stats{}
	src := &secretscan.Sources{
		Detector:    secretscan.New(detOpt),
		MaxFileSize: maxSize,
		Exclude:     opts.Excludes,
		Gitignore:   opts.Gitignore,
		Archives:    opts.Archives,
		Workers:     opts.Workers,
		Stats:       stats,
		Warn:        col.warn,
		Skip:        col.skip,
	}

	stopProgress := scanStartProgress(opts.IO, stats, opts.Now)
	start := opts.Now()
	switch {
	case opts.Git || opts.Staged || opts.PrePush:
		err = scanGit(ctx, opts, src, col)
	default:
		err = scanFiles(ctx, opts, src, col)
	}
	stopProgress()
	if err != nil {
		return &ExitErr{Code: ExitError, Err: err}
	}
	elapsed := opts.Now().Sub(start)

	findings := col.findings
	for i := range findings {
		if n := col.seen[findings[i].Fingerprint]; n > 1 {
			findings[i].Properties["occurrences"] = n
		}
		if l := findings[i].Location; l.Commit != "" {
			findings[i].Message += fmt.Sprintf(" Introduced in commit %s by %s on %s.", scanShort(l.Commit), l.Author, l.Date)
		}
	}
	if opts.Verify {
		if err := scanVerify(ctx, opts, col); err != nil {
			return err
		}
	}
	if baseline != nil {
		baseline.Apply(findings)
	}
	report.Sort(findings)

	if opts.WriteBaseline != "" {
		data, err := secretscan.WriteBaseline(findings, baseline)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(opts.WriteBaseline, data, 0o600); err != nil {
			return &ExitErr{Code: ExitError, Err: fmt.Errorf("--write-baseline: %w", err)}
		}
		for i := range findings {
			if findings[i].Suppressed == "" {
				findings[i].Suppressed = secretscan.SuppressedBaseline
			}
		}
	}

	unreadable := len(col.errs)
	var out bytes.Buffer
	switch format {
	case report.FormatJSON:
		err = scanWriteJSON(&out, findings, col.errs, stats)
	case report.FormatSARIF:
		sf := findings
		if !opts.Git && !opts.Staged && !opts.PrePush {
			sf = scanSARIFPaths(findings, newScanRootRel())
		}
		err = report.WriteSARIF(&out, scanTool(), secretscan.Rules(), sf)
	default:
		if !opts.Quiet || report.Summarize(findings).Total > 0 || unreadable > 0 {
			err = scanWriteText(&out, opts, findings, unreadable)
		}
	}
	if err != nil {
		return err
	}
	if opts.ReportFile != "" {
		if err := atomicfile.Write(opts.ReportFile, out.Bytes(), 0o600); err != nil {
			return &ExitErr{Code: ExitError, Err: fmt.Errorf("--report: %w", err)}
		}
		if !opts.Quiet || report.Summarize(findings).Total > 0 || unreadable > 0 {
			fmt.Fprintf(opts.IO.Out, "%s (report written to %s)\n", scanSummaryLine(findings, report.NewPalette(opts.IO.ColorEnabled()), unreadable), report.Printable(opts.ReportFile))
		}
	} else if _, err := opts.IO.Out.Write(out.Bytes()); err != nil {
		return err
	}
	if opts.WriteBaseline != "" {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: wrote %s; later scans with --baseline %s accept these findings\n", report.Printable(opts.WriteBaseline), report.Printable(opts.WriteBaseline))
	}
	for _, n := range col.notices {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", n)
	}
	// Skips met in walks are only counted: say them in one line (the
	// notices above said those named explicitly).
	if sum := scanSkipSummary(stats); sum != "" && !opts.Quiet && modes == 0 && stats.Skipped.Load() > int64(len(col.notices)) {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", sum)
	}
	for _, e := range col.errs {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", scanPrintable(e))
	}
	if opts.IO.ProgressEnabled() {
		fmt.Fprintf(opts.IO.ErrOut, "scanned %d %s, %s in %s\n", stats.Files.Load(), scanUnit(opts), scanBytes(stats.Bytes.Load()), elapsed.Round(time.Millisecond))
	}
	if unreadable > 0 {
		return &ExitErr{Code: ExitError, Err: fmt.Errorf("%d input errors: the scan is incomplete", unreadable)}
	}
	if report.AtOrAbove(findings, failOn) {
		return ErrFindings()
	}
	return nil
}

// scanFiles scans the path arguments, or stdin for "-".
func scanFiles(ctx context.Context, opts *scanOptions, src *secretscan.Sources, col *scanCollector) error {
	paths := opts.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	// Fingerprints use the path from the repository's root.
	rr := newScanRootRel()
	add := func(o secretscan.Origin, ms []secretscan.Match) {
		o.Key = rr.rel(o.Path)
		col.add(o, ms)
	}
	var files []string
	var buckets []secretscan.ObjectTarget
	for _, p := range paths {
		if strings.HasPrefix(p, "s3://") {
			t, err := scanS3Target(ctx, opts, p)
			if err != nil {
				return err
			}
			buckets = append(buckets, t)
			continue
		}
		if p == "-" {
			if err := src.ScanReader(ctx, "-", opts.IO.In, col.add); err != nil {
				return fmt.Errorf("<stdin>: %w", err)
			}
			continue
		}
		files = append(files, filepath.Clean(p))
	}
	for _, t := range buckets {
		// An object's URL is its own key: no repository root applies.
		if err := src.ScanObjects(ctx, t, col.add); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return nil
	}
	return src.ScanPaths(ctx, files, add)
}

// scanVerify asks STS about every complete pair, one at a time.
func scanVerify(ctx context.Context, opts *scanOptions, col *scanCollector) error {
	endpoint := opts.AWS.EndpointURL
	for _, k := range []string{"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		if endpoint == "" {
			endpoint = opts.Getenv(k)
		}
	}
	region := opts.AWS.Region
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = opts.Getenv(k)
		}
	}
	v := &stsverify.Verifier{Endpoint: endpoint, Region: region, Timeout: opts.VerifyTimeout,
		Interval: time.Duration(float64(time.Second) / opts.VerifyRate), AllowCanaries: opts.VerifyCanaries}
	idx := make([]int, 0, len(col.pairs))
	for i := range col.pairs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		p := col.pairs[i]
		r := v.Verify(ctx, p.id, p.secret, p.token)
		f := &col.findings[i]
		f.Properties["verification"] = string(r.Status)
		if r.ARN != "" {
			f.Properties["arn"] = r.ARN
		}
		switch r.Status {
		case stsverify.Live:
			f.Severity = report.SeverityCritical
			f.Message += " Verified LIVE: " + r.ARN + "."
			if r.Detail != "" {
				f.Message += " (" + r.Detail + ")"
			}
			// A live key is an incident: the next step names the key in
			// full (an identifier, not a secret), ready to paste.
			respond := "keywarden respond " + p.id
			f.Properties["respond"] = respond
			f.Remediation = "Contain it now, with credentials of the key's account: `" + respond + " --dry-run`, then without --dry-run (deactivates the key, revokes its sessions, lists what it did and created). " + f.Remediation
		case stsverify.Revoked:
			f.Severity = report.SeverityLow
			f.Message += " Verified: STS does not know this key ID (" + r.Detail + "): deleted, deactivated, expired, or never issued in this partition (STS cannot tell these apart; a key of aws-cn or aws-us-gov needs that partition's endpoint, --endpoint-url)."
		case stsverify.Invalid:
			f.Severity = report.SeverityLow
			f.Message += " Verified: the key ID exists but this is not its secret (" + r.Detail + ")."
		case stsverify.Canary:
			f.Message += " Not verified: " + r.Detail + "."
			f.Properties["canary"] = true
		case stsverify.Skipped:
			f.Message += " Not verified: " + r.Detail + "."
		default:
			f.Message += " Verification failed: " + r.Detail + "."
		}
	}
	return nil
}

// scanWriteText renders findings grouped by file. Examples are always
// listed (marked); other suppressed findings only with --show-suppressed.
func scanWriteText(w io.Writer, opts *scanOptions, findings []report.Finding, unreadable int) error {
	shown := make([]report.Finding, 0, len(findings))
	hidden := 0
	for _, f := range findings {
		if f.Suppressed == "" || f.Suppressed == secretscan.SuppressedExample || opts.ShowSuppressed {
			// Paths, authors and messages come from the scanned files and
			// commits: a hostile name must not drive the terminal.
			f.Location.Path = scanPrintable(f.Location.Path)
			f.Location.Author = scanPrintable(f.Location.Author)
			f.Message = scanPrintable(f.Message)
			f.Evidence = scanPrintable(f.Evidence)
			shown = append(shown, f)
		} else {
			hidden++
		}
	}
	var text bytes.Buffer
	if err := report.WriteText(&text, shown, report.TextOptions{Color: opts.IO.ColorEnabled(), ShowSuppressed: true}); err != nil {
		return err
	}
	// The text ends with the summary line: say there what was not read.
	p := report.NewPalette(opts.IO.ColorEnabled())
	body := strings.TrimSuffix(text.String(), report.SummaryLine(shown, p)+"\n")
	if _, err := fmt.Fprintf(w, "%s%s\n", body, scanSummaryLine(shown, p, unreadable)); err != nil {
		return err
	}
	if hidden > 0 {
		_, err := fmt.Fprintf(w, "%d more suppressed by a baseline or keywarden:allow (--show-suppressed lists them)\n", hidden)
		return err
	}
	return nil
}

// scanParseSize reads "10MB", "512k", "1G" or a plain byte count.
func scanParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || v <= 0 || v > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size (like 512K, 10MB, 1G)", s)
	}
	return v * mult, nil
}

func scanShort(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func scanUnit(opts *scanOptions) string {
	if opts.Git || opts.Staged || opts.PrePush {
		return "blobs"
	}
	return "files"
}

func scanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// scanStartProgress draws "files, bytes, rate" on stderr while the scan
// runs, when stderr is a terminal. The returned function stops and clears
// it.
func scanStartProgress(ios *IOStreams, st *secretscan.Stats, now func() time.Time) func() {
	start := now()
	return ios.StartProgress(200*time.Millisecond, func() string {
		el := now().Sub(start).Seconds()
		b := st.Bytes.Load()
		rate := 0.0
		if el > 0 {
			rate = float64(b) / el
		}
		return fmt.Sprintf("scanning: %d items, %s, %s/s", st.Files.Load(), scanBytes(b), scanBytes(int64(rate)))
	})
}

// scanRootRel makes file paths relative to the root of the git work tree
// that holds each file (or, outside any work tree, to the current
// directory), however the scan was given them ("/abs/repo/x",
// "../repo/x", "x" from a subdirectory). Baseline fingerprints use that
// path, so a baseline matches whichever way the scan is started, and so
// do SARIF URIs, which GitHub code scanning resolves against the root of
// the checked-out repository. Safe for concurrent use.
type scanRootRel struct {
	mu    sync.Mutex
	cwd   string
	roots map[string]string // directory -> work tree root ("" for none)
}

func newScanRootRel() *scanRootRel {
	cwd, _ := os.Getwd()
	return &scanRootRel{cwd: cwd, roots: map[string]string{}}
}

func (r *scanRootRel) rootOf(dir string) string {
	if root, ok := r.roots[dir]; ok {
		return root
	}
	root := ""
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		root = dir
	} else if up := filepath.Dir(dir); up != dir {
		root = r.rootOf(up)
	}
	r.roots[dir] = root
	return root
}

// rel returns p from its work tree's root, with forward slashes, or p
// unchanged for stdin ("-") or when no such path can be made.
func (r *scanRootRel) rel(p string) string {
	if p == "" || p == "-" || r.cwd == "" {
		return p
	}
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(r.cwd, abs)
	}
	r.mu.Lock()
	base := r.rootOf(filepath.Dir(abs))
	r.mu.Unlock()
	if base == "" {
		base = r.cwd
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(rel)
}

// scanSARIFPaths returns the findings with file paths from the root of
// their work tree (scanRootRel). For files only: git sources already give
// paths from the root.
func scanSARIFPaths(findings []report.Finding, r *scanRootRel) []report.Finding {
	out := slices.Clone(findings)
	for i := range out {
		out[i].Location.Path = r.rel(out[i].Location.Path)
	}
	return out
}

// scanPrintable escapes control characters (ESC, newlines, C1 codes) and
// invalid UTF-8 the way Go quotes strings, so that text output shows a
// hostile file name or author as written instead of obeying it.
func scanPrintable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

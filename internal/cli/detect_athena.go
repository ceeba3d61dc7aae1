package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	athenasdk "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/athena"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/pflag"
)

// detectAthenaOptions are detect's --athena flags: run the rules as SQL
// on Amazon Athena over the trail's table instead of reading the logs.
type detectAthenaOptions struct {
	Table, Database, Workgroup, Output string
	Logs                               string
	DDL                                string
	OrgID                              string
	Accounts, Regions                  []string
	MaxScan                            string
	Yes                                bool
	PricePerTB                         float64
	PrintSQL                           bool
	PrintPolicy                        bool
	// Layout is the --athena table's partition layout (athena.Layouts);
	// Lake names a CloudTrail Lake event data store to query instead.
	Layout string
	Lake   string

	// Clients and poll timing for tests; nil means the real ones.
	Client     athena.API
	S3         athena.Lister
	LakeClient athena.LakeAPI
	Backoff    func(int) time.Duration
}

// active says whether detect reads a query target (--athena or --lake)
// instead of SOURCE arguments.
func (a *detectAthenaOptions) active() bool { return a.Table != "" || a.Lake != "" }

// schema is the target's layout, checked against the other flags.
func (a *detectAthenaOptions) schema() (*athena.Schema, error) {
	layout := a.Layout
	if layout == "" {
		layout = athena.LayoutKeywarden
	}
	if a.Lake == "" {
		s, err := athena.AthenaSchema(layout)
		if err != nil {
			return nil, UsageError(fmt.Errorf("--athena-layout: %w", err))
		}
		return s, nil
	}
	switch {
	case a.Table != "":
		return nil, usageErrorf("--athena and --lake name two targets: use one")
	case layout != athena.LayoutKeywarden:
		return nil, usageErrorf("--athena-layout describes an --athena table; a --lake event data store has Lake's own schema")
	}
	s, err := athena.LakeSchema(a.Lake)
	if err != nil {
		return nil, UsageError(fmt.Errorf("--lake: %w", err))
	}
	return s, nil
}

func (a *detectAthenaOptions) bind(fl *pflag.FlagSet) {
	fl.StringVar(&a.Table, "athena", "", "run the rules as SQL on Amazon Athena over this CloudTrail table (see --athena-ddl)")
	fl.StringVar(&a.Database, "athena-database", "default", "the Athena (Glue) database of the --athena table")
	fl.StringVar(&a.Workgroup, "athena-workgroup", "primary", "the Athena workgroup the queries run in")
	fl.StringVar(&a.Output, "athena-output", "", "s3:// location for query results (default: the workgroup's)")
	fl.StringVar(&a.Logs, "athena-logs", "", "the trail's s3://bucket/[prefix/]AWSLogs/ folder, listed to estimate the bytes scanned (cost guard)")
	fl.StringVar(&a.DDL, "athena-ddl", "", "print the CREATE EXTERNAL TABLE for the trail logs at this s3://bucket/[prefix/]AWSLogs/ URL, and exit")
	fl.StringVar(&a.OrgID, "org-id", "", "organization trail: the o-xxxxxxxxxx folder under AWSLogs/ (default: found by listing)")
	fl.StringSliceVar(&a.Accounts, "accounts", nil, "with --athena or --athena-ddl: only these account IDs (default: every account folder)")
	fl.StringSliceVar(&a.Regions, "regions", nil, "with --athena or --athena-ddl: only these regions (default: every region folder)")
	fl.StringVar(&a.MaxScan, "max-scan", "100GB", "with --athena: refuse to scan more than this without --yes; with --lake: cancel a query that scans more")
	fl.BoolVar(&a.Yes, "yes", false, "with --athena or --lake: run even when the scan is above --max-scan")
	fl.Float64Var(&a.PricePerTB, "athena-price-per-tb", athena.DefaultPricePerTB, "the workgroup's price in USD per TB scanned, for the cost estimate")
	fl.BoolVar(&a.PrintSQL, "athena-print-sql", false, "with --athena or --lake: print the queries (one per rule family) and exit")
	fl.BoolVar(&a.PrintPolicy, "print-required-policy", false, "print the IAM policy detect --athena (or --lake) needs (scoped to --athena-logs and --athena-output, or the --lake store, when given), and exit")
	fl.StringVar(&a.Layout, "athena-layout", athena.LayoutKeywarden, "the --athena table's partitions: "+strings.Join(athena.Layouts, "|")+" (see docs/athena.md)")
	fl.StringVar(&a.Lake, "lake", "", "run the rules as SQL on this CloudTrail Lake event data store (ID or ARN) instead of reading logs")
}

// detectAthenaEarly handles the --athena flags that print and exit.
func detectAthenaEarly(ctx context.Context, opts *detectOptions, rules []*detect.Rule, now time.Time) (bool, error) {
	a := &opts.Athena
	switch {
	case a.PrintPolicy:
		return true, detectAthenaPolicy(opts)
	case a.DDL != "":
		return true, detectAthenaDDL(ctx, opts, now)
	case a.PrintSQL:
		if !a.active() {
			return true, usageErrorf("--athena-print-sql needs --athena TABLE or --lake EVENT-DATA-STORE")
		}
		plan, w, err := detectAthenaPlan(opts, rules, now)
		if err != nil {
			return true, err
		}
		t := athena.Table{Database: a.Database, Name: a.Table}
		for _, f := range plan.Families {
			fmt.Fprintf(opts.IO.Out, "-- %s rules (%d): %s\n%s;\n\n", f.Name, len(f.Rules), strings.Join(f.Rules, " "), f.SQL(t, w, now))
		}
		detectAthenaWidened(opts.IO, plan)
		if sch, err := a.schema(); err == nil && !sch.BoundsByDate() {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: athena: --athena-layout %s: the table has no date partitions, so every query scans the whole table\n", sch.Name())
		}
		return true, nil
	}
	return false, nil
}

// detectAthenaPlan checks the flags and plans the queries.
func detectAthenaPlan(opts *detectOptions, rules []*detect.Rule, now time.Time) (*athena.Plan, athena.Window, error) {
	a := &opts.Athena
	var w athena.Window
	if len(opts.Sources) > 0 || opts.Lookup {
		return nil, w, usageErrorf("--athena and --lake read the table, not SOURCE arguments or --lookup: use one or the other")
	}
	sch, err := a.schema()
	if err != nil {
		return nil, w, err
	}
	if !sch.Lake() {
		if err := (athena.Table{Database: a.Database, Name: a.Table}).Check(); err != nil {
			return nil, w, UsageError(fmt.Errorf("--athena/--athena-database: %w", err))
		}
	}
	since, err := detectParseTime(opts.Since, now)
	if err != nil {
		return nil, w, UsageError(fmt.Errorf("--since: %w", err))
	}
	until, err := detectParseTime(opts.Until, now)
	if err != nil {
		return nil, w, UsageError(fmt.Errorf("--until: %w", err))
	}
	if since.IsZero() {
		flag := "--athena"
		if sch.Lake() {
			flag = "--lake"
		}
		return nil, w, usageErrorf("%s needs --since: the date partitions scanned (and paid for) must be bounded", flag)
	}
	w = athena.Window{Since: since, Until: until, Accounts: a.Accounts, Regions: a.Regions}
	if err := w.Check(); err != nil {
		return nil, w, detectInputErr(fmt.Errorf("--since/--until/--accounts/--regions: %w", err))
	}
	if a.Output != "" && !strings.HasPrefix(a.Output, "s3://") {
		return nil, w, usageErrorf("--athena-output %q: want an s3:// URL", report.Printable(a.Output))
	}
	plan, err := athena.NewPlanFor(sch, rules, opts.Key != "")
	if err != nil {
		return nil, w, detectInputErr(err)
	}
	return plan, w, nil
}

// detectAthenaWidened says which tests the SQL cannot decide.
func detectAthenaWidened(io *IOStreams, plan *athena.Plan) {
	engine := "athena"
	if len(plan.Families) > 0 && plan.Families[0].Lake() {
		engine = "lake"
	}
	for _, wd := range plan.Widened {
		fmt.Fprintf(io.ErrOut, "keywarden: %s: not compilable to SQL, falls back to fetching the rows and judging them here: %s\n", engine, report.Printable(wd.String()))
	}
	if len(plan.Unknown) > 0 {
		fmt.Fprintf(io.ErrOut, "keywarden: %s: rules of a kind the SQL planner does not know (%s): every event in the window is fetched\n", engine, report.Printable(strings.Join(plan.Unknown, ", ")))
	}
}

// detectAthenaSources plans the queries, runs the cost guard and returns
// one source per rule family.
func detectAthenaSources(ctx context.Context, opts *detectOptions, rules []*detect.Rule, loadCfg func() (aws.Config, error), now time.Time, getenv func(string) string) ([]*athena.Source, error) {
	a := &opts.Athena
	plan, w, err := detectAthenaPlan(opts, rules, now)
	if err != nil {
		return nil, err
	}
	maxScan, err := detectParseScan(a.MaxScan)
	if err != nil {
		return nil, UsageError(fmt.Errorf("--max-scan: %w", err))
	}
	if a.PricePerTB < 0 {
		return nil, usageErrorf("--athena-price-per-tb must not be negative")
	}
	sch, err := a.schema()
	if err != nil {
		return nil, err
	}
	if sch.Lake() {
		return detectLakeSources(opts, plan, w, maxScan, loadCfg, now)
	}
	if a.Logs == "" {
		return nil, usageErrorf("--athena needs --athena-logs s3://bucket/[prefix/]AWSLogs/: the cost guard lists it to estimate the bytes scanned before any query runs")
	}
	bucket, prefix, err := cloudtrail.ParseS3URL(a.Logs)
	if err != nil {
		return nil, detectInputErr(fmt.Errorf("--athena-logs: %w", err))
	}
	lister, client := a.S3, a.Client
	if lister == nil || client == nil {
		cfg, err := loadCfg()
		if err != nil {
			return nil, UsageError(fmt.Errorf("AWS configuration: %w", err))
		}
		if lister == nil {
			lister = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = opts.AWS.EndpointURL != "" || getenv("AWS_ENDPOINT_URL") != "" })
		}
		if client == nil {
			client = athenasdk.NewFromConfig(cfg)
		}
	}
	layout, skipped, err := athena.Discover(ctx, lister, bucket, prefix, a.OrgID, a.Accounts, a.Regions)
	if err != nil {
		return nil, detectInputErr(err)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: athena: skipped %s that are neither accounts nor regions under s3://%s/%s\n",
			detectPlural(len(skipped), "folder", "folders"), report.Printable(bucket), report.Printable(layout.Base))
	}
	scanned := w
	if !sch.BoundsByDate() {
		// No date partitions: each query reads every object of the table.
		scanned = athena.Window{Since: athena.CloudTrailStart, Accounts: w.Accounts, Regions: w.Regions}
	}
	scan, err := athena.Estimate(ctx, lister, layout, scanned, now)
	if err != nil {
		return nil, detectInputErr(err)
	}
	queries := len(plan.Families)
	if !sch.BoundsByDate() {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: athena: --athena-layout %s: the table has no date partitions, so every query scans the whole table, whatever --since/--until say\n", sch.Name())
		if !a.Yes {
			return nil, usageErrorf("the queries would scan the whole table (%s, %s): pass --yes to run them, or create a table whose partitions bound the scan (--athena-ddl)",
				detectBytes(scan.Bytes*int64(queries)), detectPlural(queries, "query", "queries"))
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "keywarden: athena: %s in %d objects under %d account/region folders (S3 listing of the date partitions); %s at $%.2f/TB (--athena-price-per-tb; Athena's list price is $5/TB): about $%.2f\n",
		detectBytes(scan.Bytes), scan.Objects, scan.Prefixes, detectPlural(queries, "query scans", "queries scan"), a.PricePerTB, athena.Cost(scan.Bytes, queries, a.PricePerTB))
	if scan.Bytes*int64(queries) > maxScan && !a.Yes {
		return nil, usageErrorf("the queries would scan %s, above --max-scan %s: pass --yes to run them, or narrow --since/--until/--accounts/--regions",
			detectBytes(scan.Bytes*int64(queries)), detectBytes(maxScan))
	}
	detectAthenaWidened(opts.IO, plan)
	runner := &athena.Runner{Client: client, Database: a.Database, Workgroup: a.Workgroup, Output: a.Output, Backoff: a.Backoff}
	t := athena.Table{Database: a.Database, Name: a.Table}
	var out []*athena.Source
	for _, f := range plan.Families {
		out = append(out, &athena.Source{Runner: runner, Family: f, SQL: f.SQL(t, w, now)})
	}
	return out, nil
}

// detectAthenaSummary says what the queries scanned; rows skipped as no
// CloudTrail event are input errors.
func detectAthenaSummary(io *IOStreams, srcs []*athena.Source, onErr func(*cloudtrail.InputError)) {
	for _, s := range srcs {
		if s.Stats.ID == "" {
			continue
		}
		if s.Stats.Skipped > 0 {
			onErr(&cloudtrail.InputError{Source: s.Name(), Offset: -1,
				Err: fmt.Errorf("skipped %d result rows that are no CloudTrail event (first: %s)", s.Stats.Skipped, s.Stats.SkipReason)})
		}
		engine, family, _ := strings.Cut(s.Name(), ":")
		fmt.Fprintf(io.ErrOut, "keywarden: %s: %s query %s scanned %s, returned %d rows in %d pages\n",
			engine, family, report.Printable(s.Stats.ID), detectBytes(s.Stats.BytesScanned), s.Stats.Rows, s.Stats.Pages)
	}
}

// detectParseScan reads --max-scan: scan's sizes (512M, 10GB) and T.
func detectParseScan(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	if n, ok := strings.CutSuffix(t, "T"); ok {
		g, err := scanParseSize(n + "G")
		if err != nil || g > 1<<50/1024 {
			return 0, fmt.Errorf("%q is not a size (like 100GB, 2T)", s)
		}
		return g * 1024, nil
	}
	return scanParseSize(s)
}

func detectBytes(n int64) string {
	switch {
	case n >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(n)/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// detectAthenaDDL prints the table for the trail at --athena-ddl.
func detectAthenaDDL(ctx context.Context, opts *detectOptions, now time.Time) error {
	a := &opts.Athena
	bucket, prefix, err := cloudtrail.ParseS3URL(a.DDL)
	if err != nil {
		return detectInputErr(fmt.Errorf("--athena-ddl: %w", err))
	}
	table := a.Table
	if table == "" {
		table = "cloudtrail_logs"
	}
	t := athena.Table{Database: a.Database, Name: table}
	if err := t.Check(); err != nil {
		return UsageError(err)
	}
	lister := a.S3
	if lister == nil && (len(a.Accounts) == 0 || len(a.Regions) == 0) {
		cfg, err := opts.AWS.load(ctx)
		if err != nil {
			return UsageError(fmt.Errorf("AWS configuration: %w", err))
		}
		lister = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = opts.AWS.EndpointURL != "" })
	}
	layout, skipped, err := athena.Discover(ctx, lister, bucket, prefix, a.OrgID, a.Accounts, a.Regions)
	if err != nil {
		return detectInputErr(err)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: skipped %s that are neither accounts nor regions\n", detectPlural(len(skipped), "folder", "folders"))
	}
	from := athena.CloudTrailStart
	if since, err := detectParseTime(opts.Since, now); err == nil && !since.IsZero() {
		from = since
	}
	ddl, err := athena.DDL(t, layout, from)
	if err != nil {
		return detectInputErr(err)
	}
	_, err = fmt.Fprint(opts.IO.Out, ddl)
	return err
}

// detectAthenaPolicy prints the IAM policy detect --athena needs.
func detectAthenaPolicy(opts *detectOptions) error {
	a := &opts.Athena
	if a.Lake != "" {
		return detectLakePolicy(opts)
	}
	bucketARNs := func(u string) (iampolicy.StringOrList, iampolicy.StringOrList) {
		b, p, err := cloudtrail.ParseS3URL(u)
		if u == "" || err != nil {
			return iampolicy.StringOrList{"*"}, iampolicy.StringOrList{"*"}
		}
		return iampolicy.StringOrList{"arn:aws:s3:::" + b}, iampolicy.StringOrList{"arn:aws:s3:::" + b + "/" + p + "*"}
	}
	logBucket, logObjects := bucketARNs(a.Logs)
	outBucket, outObjects := bucketARNs(a.Output)
	doc := iampolicy.Document{Version: iampolicy.Version2012, Statement: []iampolicy.DocStatement{
		{Sid: "KeywardenAthenaQueries", Effect: iampolicy.Allow, Action: iampolicy.StringOrList(athena.RequiredActions), Resource: iampolicy.StringOrList{"*"}},
		{Sid: "KeywardenTrailListing", Effect: iampolicy.Allow, Action: iampolicy.StringOrList{"s3:ListBucket", "s3:GetBucketLocation"}, Resource: logBucket},
		{Sid: "KeywardenTrailRead", Effect: iampolicy.Allow, Action: iampolicy.StringOrList{"s3:GetObject"}, Resource: logObjects},
		{Sid: "KeywardenResultsBucket", Effect: iampolicy.Allow, Action: iampolicy.StringOrList{"s3:ListBucket", "s3:GetBucketLocation"}, Resource: outBucket},
		{Sid: "KeywardenResultsWrite", Effect: iampolicy.Allow, Action: iampolicy.StringOrList{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}, Resource: outObjects},
	}}
	b, err := doc.Marshal()
	if err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(b)
	return err
}

// keyWeights says whether an Athena query returns the key family
// reduced: the engine then counts its rows' events (detect.Options.KeyWeights).
func (s *detectSources) keyWeights() bool {
	for _, a := range s.athena {
		if a.Family.Weighted() {
			return true
		}
	}
	return false
}

package athena

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/keywarden/keywarden/internal/clock"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	sdk "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// API is the part of the Athena client the runner calls.
type API interface {
	StartQueryExecution(ctx context.Context, in *sdk.StartQueryExecutionInput, opts ...func(*sdk.Options)) (*sdk.StartQueryExecutionOutput, error)
	GetQueryExecution(ctx context.Context, in *sdk.GetQueryExecutionInput, opts ...func(*sdk.Options)) (*sdk.GetQueryExecutionOutput, error)
	GetQueryResults(ctx context.Context, in *sdk.GetQueryResultsInput, opts ...func(*sdk.Options)) (*sdk.GetQueryResultsOutput, error)
	StopQueryExecution(ctx context.Context, in *sdk.StopQueryExecutionInput, opts ...func(*sdk.Options)) (*sdk.StopQueryExecutionOutput, error)
}

// Runner runs queries through the Athena API.
type Runner struct {
	Client API
	// Database and Workgroup name the query's context; Output is the
	// s3:// location for results (empty: the workgroup's).
	Database, Workgroup, Output string
	// Backoff is the wait before the n-th poll or retry (n from 0); nil
	// means DefaultBackoff.
	Backoff func(n int) time.Duration
	// Sleep waits d or until ctx ends; nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxThrottled is how many throttled calls in a row are retried
	// before giving up (0: 10).
	MaxThrottled int
}

// DefaultBackoff polls at 250ms, doubling to at most 5s.
func DefaultBackoff(n int) time.Duration {
	d := 250 * time.Millisecond
	for i := 0; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// QueryStats is what one query cost and returned.
type QueryStats struct {
	ID           string
	BytesScanned int64
	Rows         int64
	Pages        int
	Polls        int
	Throttled    int
	// Skipped counts rows that are no CloudTrail event (too large);
	// SkipReason says why the first was skipped.
	Skipped    int64
	SkipReason string
}

// QueryError is a query Athena did not complete.
type QueryError struct {
	ID, State, Reason string
	// Engine names the service (empty: Athena).
	Engine string
}

func (e *QueryError) Error() string {
	engine := e.Engine
	if engine == "" {
		engine = "Athena"
	}
	if e.Reason == "" {
		return fmt.Sprintf("%s query %s %s", engine, e.ID, e.State)
	}
	return fmt.Sprintf("%s query %s %s: %s", engine, e.ID, e.State, e.Reason)
}

// throttled uses the SDK's own list of throttling error codes.
func throttled(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// call runs f, retrying throttled calls with backoff.
func (r *Runner) call(ctx context.Context, st *QueryStats, f func() error) error {
	limit := r.MaxThrottled
	if limit <= 0 {
		limit = 10
	}
	for n := 0; ; n++ {
		err := f()
		if err == nil || !throttled(err) || n >= limit {
			return err
		}
		st.Throttled++
		if err := r.wait(ctx, n); err != nil {
			return err
		}
	}
}

func (r *Runner) wait(ctx context.Context, n int) error {
	b, s := r.Backoff, r.Sleep
	if b == nil {
		b = DefaultBackoff
	}
	if s == nil {
		s = clock.Sleep
	}
	return s(ctx, b(n))
}

// Run starts the query, waits for it, and hands each result row to fn
// (values in the order of the columns named by the result's header, nil
// for NULL). When ctx ends first, the query is stopped.
func (r *Runner) Run(ctx context.Context, query string, fn func(header []string, row []*string) error) (QueryStats, error) {
	var st QueryStats
	in := &sdk.StartQueryExecutionInput{QueryString: aws.String(query)}
	if r.Database != "" {
		in.QueryExecutionContext = &types.QueryExecutionContext{Database: aws.String(r.Database)}
	}
	if r.Workgroup != "" {
		in.WorkGroup = aws.String(r.Workgroup)
	}
	if r.Output != "" {
		in.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String(r.Output)}
	}
	var out *sdk.StartQueryExecutionOutput
	err := r.call(ctx, &st, func() (err error) { out, err = r.Client.StartQueryExecution(ctx, in); return })
	if err != nil {
		return st, fmt.Errorf("starting the Athena query: %w", err)
	}
	st.ID = aws.ToString(out.QueryExecutionId)
	if err := r.await(ctx, &st); err != nil {
		if ctx.Err() != nil {
			r.stop(ctx, st.ID)
		}
		return st, err
	}
	return st, r.results(ctx, &st, fn)
}

// stop cancels the query, on a context of its own: the caller's has ended.
func (r *Runner) stop(ctx context.Context, id string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = r.Client.StopQueryExecution(sctx, &sdk.StopQueryExecutionInput{QueryExecutionId: aws.String(id)})
}

// poll calls describe (retried when throttled) until judge, reading its
// answer, says the query has ended (done) or returns the error that ends
// the wait; between calls it waits with backoff. what names the query
// in errors.
func (r *Runner) poll(ctx context.Context, st *QueryStats, what string, describe func() error, judge func() (bool, error)) error {
	for n := 0; ; n++ {
		err := r.call(ctx, st, describe)
		st.Polls++
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("polling %s %s: %w", what, st.ID, err)
		}
		if done, err := judge(); done || err != nil {
			return err
		}
		if err := r.wait(ctx, n); err != nil {
			return err
		}
	}
}

func (r *Runner) await(ctx context.Context, st *QueryStats) error {
	var out *sdk.GetQueryExecutionOutput
	describe := func() (err error) {
		out, err = r.Client.GetQueryExecution(ctx, &sdk.GetQueryExecutionInput{QueryExecutionId: aws.String(st.ID)})
		return
	}
	return r.poll(ctx, st, "query", describe, func() (bool, error) {
		qe := out.QueryExecution
		if qe == nil || qe.Status == nil {
			return false, fmt.Errorf("query %s: Athena gave no status in the answer", st.ID)
		}
		if qe.Statistics != nil {
			st.BytesScanned = aws.ToInt64(qe.Statistics.DataScannedInBytes)
		}
		switch qe.Status.State {
		case types.QueryExecutionStateSucceeded:
			return true, nil
		case types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
			reason := aws.ToString(qe.Status.StateChangeReason)
			if qe.Status.AthenaError != nil && reason == "" {
				reason = aws.ToString(qe.Status.AthenaError.ErrorMessage)
			}
			return false, &QueryError{ID: st.ID, State: string(qe.Status.State), Reason: reason}
		}
		return false, nil
	})
}

// pages reads result pages: fetch (retried when throttled) reads the
// page after token (nil: the first), then deliver hands its rows on and
// returns the next page's token (nil or empty: none).
func (r *Runner) pages(ctx context.Context, st *QueryStats, what string, fetch func(token *string) error, deliver func() (*string, error)) error {
	var token *string
	for {
		if err := r.call(ctx, st, func() error { return fetch(token) }); err != nil {
			return fmt.Errorf("reading the results of %s %s: %w", what, st.ID, err)
		}
		st.Pages++
		next, err := deliver()
		if err != nil || next == nil || *next == "" {
			return err
		}
		token = next
	}
}

func (r *Runner) results(ctx context.Context, st *QueryStats, fn func([]string, []*string) error) error {
	var out *sdk.GetQueryResultsOutput
	fetch := func(token *string) (err error) {
		out, err = r.Client.GetQueryResults(ctx, &sdk.GetQueryResultsInput{QueryExecutionId: aws.String(st.ID), MaxResults: aws.Int32(1000), NextToken: token})
		return
	}
	var header []string
	return r.pages(ctx, st, "Athena query", fetch, func() (*string, error) {
		for _, row := range out.ResultSet.Rows {
			vals := make([]*string, len(row.Data))
			for i, d := range row.Data {
				vals[i] = d.VarCharValue
			}
			// The first row of the first page holds the column names.
			if header == nil {
				header = make([]string, len(vals))
				for i, v := range vals {
					header[i] = aws.ToString(v)
				}
				continue
			}
			st.Rows++
			if err := fn(header, vals); err != nil {
				return nil, err
			}
		}
		return out.NextToken, nil
	})
}

// Source is one family's query as an input of the local reader: its rows
// arrive as CloudTrail JSON lines, decoded and judged like a file's.
type Source struct {
	Runner *Runner
	// Lake, when set, runs the query on CloudTrail Lake instead.
	Lake   *LakeRunner
	Family Family
	SQL    string
	// Stats is filled in as the query runs.
	Stats QueryStats
}

// Input is the source for cloudtrail.Process.
func (s *Source) Input() cloudtrail.Input {
	return cloudtrail.Input{Name: s.Name(), Open: func(ctx context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(s.pump(ctx, pw)) }()
		return pr, nil
	}}
}

// Name names the source in messages: athena:FAMILY or lake:FAMILY.
func (s *Source) Name() string {
	if s.Lake != nil {
		return "lake:" + s.Family.Name
	}
	return "athena:" + s.Family.Name
}

func (s *Source) pump(ctx context.Context, w io.Writer) error {
	run, columns, record := s.Runner.Run, Columns, AppendRecord
	if s.Lake != nil {
		run, columns, record = s.Lake.Run, lakeColumns, appendEvent
	}
	var buf []byte
	var idx []int
	var n, skipped int64
	var reason string
	row := make([]*string, len(columns))
	st, err := run(ctx, s.SQL, func(header []string, vals []*string) error {
		n++
		if idx == nil {
			var err error
			if idx, err = columnIndex(header, columns); err != nil {
				return err
			}
		}
		for i, j := range idx {
			row[i] = nil
			if j < len(vals) {
				row[i] = vals[j]
			}
		}
		var err error
		if buf, err = record(buf[:0], row); err != nil {
			// One bad row costs that row, counted and said, not the query.
			if skipped++; reason == "" {
				reason = fmt.Sprintf("row %d: %v", n, err)
			}
			return nil
		}
		_, err = w.Write(buf)
		return err
	})
	st.Skipped, st.SkipReason = skipped, reason
	s.Stats = st
	return err
}

// columnIndex finds Columns in a result header.
func columnIndex(header, columns []string) ([]int, error) {
	pos := map[string]int{}
	for i, h := range header {
		pos[h] = i
	}
	idx := make([]int, len(columns))
	for i, c := range columns {
		j, ok := pos[c]
		if !ok {
			return nil, fmt.Errorf("the result has no column %q: not a keywarden query's result", c)
		}
		idx[i] = j
	}
	return idx, nil
}

// RequiredActions are the Athena and Glue calls a run makes (the query
// engine reads the table's definition from Glue with the caller's rights).
var RequiredActions = []string{
	"athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup",
	"athena:StartQueryExecution", "athena:StopQueryExecution",
	"glue:GetDatabase", "glue:GetTable",
}

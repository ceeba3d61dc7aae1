package athena

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ctsdk "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// LakeAPI is the part of the CloudTrail client the Lake runner calls.
type LakeAPI interface {
	StartQuery(ctx context.Context, in *ctsdk.StartQueryInput, opts ...func(*ctsdk.Options)) (*ctsdk.StartQueryOutput, error)
	DescribeQuery(ctx context.Context, in *ctsdk.DescribeQueryInput, opts ...func(*ctsdk.Options)) (*ctsdk.DescribeQueryOutput, error)
	GetQueryResults(ctx context.Context, in *ctsdk.GetQueryResultsInput, opts ...func(*ctsdk.Options)) (*ctsdk.GetQueryResultsOutput, error)
	CancelQuery(ctx context.Context, in *ctsdk.CancelQueryInput, opts ...func(*ctsdk.Options)) (*ctsdk.CancelQueryOutput, error)
}

// LakeRunner runs queries on a CloudTrail Lake event data store through
// the CloudTrail API, polled and retried as the Athena runner does.
type LakeRunner struct {
	Client LakeAPI
	// MaxScan stops a query once it has scanned more bytes (0: no
	// limit): Lake cannot estimate a scan before it runs.
	MaxScan int64
	// Backoff, Sleep and MaxThrottled are the Athena runner's.
	Backoff      func(n int) time.Duration
	Sleep        func(ctx context.Context, d time.Duration) error
	MaxThrottled int
}

// ScanLimitError is a Lake query stopped for scanning more than MaxScan.
type ScanLimitError struct {
	ID           string
	Scanned, Max int64
}

func (e *ScanLimitError) Error() string {
	return fmt.Sprintf("CloudTrail Lake query %s stopped after scanning %d bytes, above --max-scan (%d bytes): pass --yes to let it run, or narrow --since/--until", e.ID, e.Scanned, e.Max)
}

// pace is an Athena runner used for its polling and retry timing.
func (r *LakeRunner) pace() *Runner {
	return &Runner{Backoff: r.Backoff, Sleep: r.Sleep, MaxThrottled: r.MaxThrottled}
}

// Run starts the query, waits for it, and hands each result row to fn as
// the Athena runner does (values in the header's order, nil when the row
// has no value for a column). When ctx ends first, the query is
// cancelled.
func (r *LakeRunner) Run(ctx context.Context, query string, fn func(header []string, row []*string) error) (QueryStats, error) {
	var st QueryStats
	p := r.pace()
	in := &ctsdk.StartQueryInput{QueryStatement: aws.String(query)}
	var out *ctsdk.StartQueryOutput
	if err := p.call(ctx, &st, func() (err error) { out, err = r.Client.StartQuery(ctx, in); return }); err != nil {
		return st, fmt.Errorf("starting the CloudTrail Lake query: %w", err)
	}
	st.ID = aws.ToString(out.QueryId)
	if err := r.await(ctx, p, &st); err != nil {
		var limit *ScanLimitError
		if ctx.Err() != nil || errors.As(err, &limit) {
			r.cancel(ctx, st.ID)
		}
		return st, err
	}
	return st, r.results(ctx, p, &st, fn)
}

// cancel stops the query, on a context of its own: the caller's may have
// ended.
func (r *LakeRunner) cancel(ctx context.Context, id string) {
	cctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	_, _ = r.Client.CancelQuery(cctx, &ctsdk.CancelQueryInput{QueryId: aws.String(id)})
}

func (r *LakeRunner) await(ctx context.Context, p *Runner, st *QueryStats) error {
	var out *ctsdk.DescribeQueryOutput
	describe := func() (err error) {
		out, err = r.Client.DescribeQuery(ctx, &ctsdk.DescribeQueryInput{QueryId: aws.String(st.ID)})
		return
	}
	return p.poll(ctx, st, "CloudTrail Lake query", describe, func() (bool, error) {
		if out.QueryStatistics != nil {
			st.BytesScanned = aws.ToInt64(out.QueryStatistics.BytesScanned)
		}
		switch out.QueryStatus {
		case cttypes.QueryStatusFinished:
			return true, nil
		case cttypes.QueryStatusFailed, cttypes.QueryStatusCancelled, cttypes.QueryStatusTimedOut:
			return false, &QueryError{ID: st.ID, State: string(out.QueryStatus), Reason: aws.ToString(out.ErrorMessage), Engine: "CloudTrail Lake"}
		case cttypes.QueryStatusQueued, cttypes.QueryStatusRunning:
		default:
			return false, fmt.Errorf("CloudTrail Lake query %s: unknown status %q", st.ID, out.QueryStatus)
		}
		if r.MaxScan > 0 && st.BytesScanned > r.MaxScan {
			return false, &ScanLimitError{ID: st.ID, Scanned: st.BytesScanned, Max: r.MaxScan}
		}
		return false, nil
	})
}

// results pages through the rows. Lake gives each row as a list of
// one-entry maps, column name to value; a column without a value is
// absent from its row.
func (r *LakeRunner) results(ctx context.Context, p *Runner, st *QueryStats, fn func([]string, []*string) error) error {
	var out *ctsdk.GetQueryResultsOutput
	fetch := func(token *string) (err error) {
		out, err = r.Client.GetQueryResults(ctx, &ctsdk.GetQueryResultsInput{QueryId: aws.String(st.ID), MaxQueryResults: aws.Int32(1000), NextToken: token})
		return
	}
	var header []string
	return p.pages(ctx, st, "CloudTrail Lake query", fetch, func() (*string, error) {
		if out.QueryStatistics != nil && out.QueryStatistics.BytesScanned != nil {
			st.BytesScanned = *out.QueryStatistics.BytesScanned
		}
		for _, row := range out.QueryResultRows {
			if header == nil {
				for _, cell := range row {
					for k := range cell {
						header = append(header, k)
					}
				}
			}
			vals := make([]*string, len(header))
			for _, cell := range row {
				for k, v := range cell {
					if i := slices.Index(header, k); i >= 0 {
						vals[i] = &v
					}
				}
			}
			st.Rows++
			if err := fn(header, vals); err != nil {
				return nil, err
			}
		}
		return out.NextToken, nil
	})
}

// lakeColumns are a Lake query's result columns: the event as
// CloudTrail wrote it.
var lakeColumns = []string{"eventjson"}

// appendEvent appends the record a Lake row holds (its eventjson), one
// JSON line, after checking it is a JSON object of a CloudTrail event's
// size.
func appendEvent(dst []byte, row []*string) ([]byte, error) {
	if len(row) != 1 || row[0] == nil {
		return dst, fmt.Errorf("the row has no eventjson (the event data store does not hold the events' JSON)")
	}
	ev := []byte(*row[0])
	if len(ev) > MaxRowBytes {
		return dst, fmt.Errorf("row of %d bytes is larger than any CloudTrail event (limit %d)", len(ev), MaxRowBytes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ev, &obj); err != nil {
		return dst, fmt.Errorf("eventjson is not a JSON object: %v", err)
	}
	// Compact: the decoder reads one record a line.
	start := len(dst)
	dst = append(dst, ev...)
	for i := start; i < len(dst); i++ {
		if dst[i] == '\n' || dst[i] == '\r' {
			dst[i] = ' '
		}
	}
	return append(dst, '\n'), nil
}

// LakeRequiredActions are the CloudTrail calls a --lake run makes.
var LakeRequiredActions = []string{
	"cloudtrail:CancelQuery", "cloudtrail:DescribeQuery", "cloudtrail:GetQueryResults", "cloudtrail:StartQuery",
}

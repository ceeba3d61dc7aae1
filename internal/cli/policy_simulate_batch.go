package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/report"
)

// policySimulateBatch answers the JSON-lines requests of --batch, one
// output line per request, in order. The request contract is decoded by
// iameval (DecodeBatchRequest, BatchReader), shared with its other users.
func policySimulateBatch(opts *policySimulateOptions) error {
	var in io.Reader
	if opts.Batch == "-" {
		in = opts.IO.In
	} else {
		f, err := os.Open(opts.Batch)
		if err != nil {
			return UsageError(err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return usageErrorf("%s: is a directory", opts.Batch)
		}
		in = f
	}
	rd := iameval.NewBatchReader(in, opts.maxLine)
	w := bufio.NewWriter(opts.IO.Out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	bad, n := 0, 0
	for {
		line, lineNo, tooLong, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.Flush()
			return UsageError(fmt.Errorf("%s: line %d: %w", opts.Batch, lineNo, err))
		}
		n++
		var out policySimulateResult
		if tooLong {
			out = policySimulateResult{Line: lineNo, Error: fmt.Sprintf("line %d: longer than the %d-byte limit", lineNo, rd.Limit())}
		} else {
			out = policySimulateOne(lineNo, line, opts.Explain)
		}
		if out.Error != "" {
			bad++
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return usageErrorf("%d of %d requests could not be evaluated (see the error lines)", bad, n)
	}
	return nil
}

// policySimulateOne evaluates one batch line; problems become its error.
// Each line is compiled on its own: its policies are parsed afresh, and a
// shared cache would only grow with a long stream.
func policySimulateOne(lineNo int, line []byte, explain bool) policySimulateResult {
	item, err := iameval.DecodeBatchRequest(line)
	if err != nil {
		return policySimulateResult{Line: lineNo, Error: fmt.Sprintf("line %d: ", lineNo) + report.Printable(err.Error())}
	}
	compiled := iameval.CompileSet(item.Set)
	res := compiled.Evaluate(item.Request, iameval.Options{Explain: explain})
	out := policySimulateJSON(res, explain)
	out.Line = lineNo
	out.Warnings = append(policySimulateActionWarnings(item.Request.Action, `"action"`), compiled.Problems...)
	return out
}

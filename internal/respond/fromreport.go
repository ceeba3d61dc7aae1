package respond

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// MaxReportSize bounds a --from report file.
const MaxReportSize = 64 << 20

// FromReport is what --from found in a scan or detect report.
type FromReport struct {
	// Kind is "scan/detect JSON", "detect JSON lines" or "SARIF".
	Kind     string
	Findings int
	// Keys are the full key IDs named by findings, sorted, unique.
	Keys []string
	// Redacted counts findings that name a key only redacted
	// (AKIA************WXYZ); RedactedIDs are those IDs, unique, sorted:
	// ResolveRedacted matches them against the account's keys.
	Redacted    int
	RedactedIDs []string
	// Examples counts AWS documentation example keys, skipped.
	Examples int
}

var (
	fullKeyRE     = lazyregexp.New(`\b(?:AKIA|ASIA)[A-Z2-7]{16}\b`)
	redactedKeyRE = lazyregexp.New(`\b(?:AKIA|ASIA)[A-Z2-7]{0,4}[*…]+[A-Z2-7]{0,4}`)
	// awskey.Redact's form of an ID: prefix, 12 stars, last four.
	redactedIDRE = lazyregexp.New(`\b(?:AKIA|ASIA)\*{12}[A-Z2-7]{4}\b`)
)

// ParseFromReport reads the key IDs out of a report written by `scan` or
// `detect` (--format json or sarif). Any other file is an error that names
// it and says what was expected.
func ParseFromReport(name string, data []byte) (*FromReport, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: empty file; want the JSON or SARIF report of keywarden scan or detect", name)
	}
	var findings []any
	out := &FromReport{}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var first map[string]any
	if err := dec.Decode(&first); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object at byte %d: want the JSON or SARIF report of keywarden scan or detect", name, dec.InputOffset())
	}
	switch {
	case first["runs"] != nil:
		out.Kind = "SARIF"
		runs, _ := first["runs"].([]any)
		for _, r := range runs {
			rm, _ := r.(map[string]any)
			if !strings.HasPrefix(sarifTool(rm), "keywarden") {
				return nil, fmt.Errorf("%s: a SARIF report of %q, not of keywarden scan or detect", name, P(clip(sarifTool(rm))))
			}
			res, _ := rm["results"].([]any)
			findings = append(findings, res...)
		}
	case first["findings"] != nil:
		tool, _ := first["tool"].(string)
		if tool != "keywarden scan" && tool != "keywarden detect" {
			return nil, fmt.Errorf("%s: a report of %q, not of keywarden scan or detect", name, P(clip(tool)))
		}
		out.Kind = tool + " JSON"
		fs, ok := first["findings"].([]any)
		if !ok {
			return nil, fmt.Errorf("%s: \"findings\" is not a list", name)
		}
		findings = fs
	case first["rule_id"] != nil:
		out.Kind = "keywarden detect JSON lines"
		findings = append(findings, first)
		for line := 2; ; line++ {
			var f map[string]any
			err := dec.Decode(&f)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || f["rule_id"] == nil {
				return nil, fmt.Errorf("%s: finding %d (byte %d) is not a detect finding", name, line, dec.InputOffset())
			}
			findings = append(findings, f)
		}
	default:
		return nil, fmt.Errorf("%s: not a report of keywarden scan or detect (no \"findings\", \"runs\" or \"rule_id\")", name)
	}
	out.Findings = len(findings)
	keys, redactedIDs := map[string]bool{}, map[string]bool{}
	for _, f := range findings {
		var full, ids []string
		redacted := false
		walkStrings(f, 0, func(s string) {
			full = append(full, fullKeyRE().FindAllString(s, -1)...)
			ids = append(ids, redactedIDRE().FindAllString(s, -1)...)
			if redactedKeyRE().MatchString(s) {
				redacted = true
			}
		})
		found := false
		for _, k := range full {
			if awskey.IsExampleID(k) {
				out.Examples++
				continue
			}
			keys[k], found = true, true
		}
		if !found && redacted {
			out.Redacted++
			for _, id := range ids {
				redactedIDs[id] = true
			}
		}
	}
	for id := range redactedIDs {
		out.RedactedIDs = append(out.RedactedIDs, id)
	}
	slices.Sort(out.RedactedIDs)
	for k := range keys {
		out.Keys = append(out.Keys, k)
	}
	slices.Sort(out.Keys)
	return out, nil
}

func sarifTool(run map[string]any) string {
	t, _ := run["tool"].(map[string]any)
	d, _ := t["driver"].(map[string]any)
	n, _ := d["name"].(string)
	return n
}

// walkStrings calls fn with every string in a decoded JSON value.
func walkStrings(v any, depth int, fn func(string)) {
	if depth > 32 {
		return
	}
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			walkStrings(e, depth+1, fn)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, depth+1, fn)
		}
	}
}

package guardduty

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on hostile input. GuardDuty writes a few hundred KB per export
// file; a finding is a few KB.
const (
	// MaxInputBytes bounds one input, after gzip decompression.
	MaxInputBytes = 64 << 20
	// MaxFindings bounds the findings a run keeps (after de-duplication).
	MaxFindings = 100_000
	// maxField bounds the text kept from one field.
	maxField = 2048
)

// inputLimit is MaxInputBytes; tests lower it to stay quick.
var inputLimit = MaxInputBytes

// InputError is a problem with one input: it names the input and, where
// there is one, the line and column (of the decompressed text).
type InputError struct {
	Source       string
	Line, Column int
	Err          error
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.Source, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Source, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// Stats counts what one or more inputs held.
type Stats struct {
	// Kept findings are about keys and credentials.
	Kept int
	// OtherFindings are GuardDuty findings about other resources
	// (S3 buckets, EKS clusters, malware on a volume): skipped.
	OtherFindings int
	// Archived findings were dismissed in GuardDuty: skipped.
	Archived int
	// Duplicates are a finding seen again (GuardDuty exports a finding
	// each time it is updated): the latest update is kept.
	Duplicates int
	// NotFindings are well-formed JSON values that are no finding.
	NotFindings int
	// OverLimit findings came after MaxFindings were kept: dropped.
	OverLimit int
	// Errors are malformed inputs or findings (each also reported).
	Errors int
}

func (s *Stats) add(o Stats) {
	s.Kept += o.Kept
	s.OtherFindings += o.OtherFindings
	s.Archived += o.Archived
	s.Duplicates += o.Duplicates
	s.NotFindings += o.NotFindings
	s.OverLimit += o.OverLimit
	s.Errors += o.Errors
}

// Skipped is the number of findings and values not kept, for the "every
// skip is counted and said" line.
func (s Stats) Skipped() int {
	return s.OtherFindings + s.Archived + s.Duplicates + s.NotFindings + s.OverLimit + s.Errors
}

// Decode reads the findings of one input, plain or gzip (detected by its
// magic bytes), in any of the shapes GuardDuty's findings come in: one
// JSON object per line (the S3 export), a JSON array, {"Findings":[...]}
// (`aws guardduty get-findings`), or EventBridge events whose detail is a
// finding. fn gets every finding, about keys or not; the caller keeps what
// it wants. Problems go to onErr with the line and column; a malformed
// line is skipped and reading goes on with the next line, a syntax error
// inside an array ends the input.
func Decode(name string, r io.Reader, fn func(*Finding), onErr func(*InputError)) Stats {
	d := &decoder{name: name, fn: fn, onErr: onErr}
	data, err := readAll(r)
	if err != nil {
		d.fail(0, err)
		return d.st
	}
	d.data = data
	d.run()
	return d.st
}

// readAll reads the input, inflating gzip, up to MaxInputBytes.
func readAll(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	data, err := io.ReadAll(io.LimitReader(src, int64(inputLimit)+1))
	if err != nil {
		return nil, fmt.Errorf("after %d bytes: %w", len(data), err)
	}
	if len(data) > inputLimit {
		return nil, fmt.Errorf("larger than %d bytes (decompressed): not a GuardDuty export", inputLimit)
	}
	return data, nil
}

type decoder struct {
	name  string
	data  []byte
	fn    func(*Finding)
	onErr func(*InputError)
	st    Stats
	// position cache for lineCol: offsets asked for mostly grow.
	lineOff, line int
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func (d *decoder) lineCol(off int) (int, int) {
	off = max(0, min(off, len(d.data)))
	if d.line == 0 {
		d.lineOff, d.line = 0, 1
	}
	if off >= d.lineOff {
		d.line += bytes.Count(d.data[d.lineOff:off], []byte{'\n'})
	} else {
		d.line -= bytes.Count(d.data[off:d.lineOff], []byte{'\n'})
	}
	d.lineOff = off
	start := bytes.LastIndexByte(d.data[:off], '\n') + 1
	return d.line, off - start + 1
}

func (d *decoder) fail(off int, err error) {
	d.st.Errors++
	e := &InputError{Source: d.name, Err: err}
	if d.data != nil {
		e.Line, e.Column = d.lineCol(off)
	}
	d.onErr(e)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func (d *decoder) run() {
	data := bytes.TrimPrefix(d.data, []byte("\xef\xbb\xbf"))
	base := len(d.data) - len(data)
	start := skipSpace(data, 0)
	if start == len(data) {
		return
	}
	if data[start] == '[' {
		d.array(base, data)
		return
	}
	// One value after another (JSON lines, or objects concatenated or
	// pretty-printed): after a syntax error, go on at the next line.
	pos, lastFail := start, -1
	for pos < len(data) {
		dec := json.NewDecoder(bytes.NewReader(data[pos:]))
		for {
			at := skipSpace(data, pos+int(dec.InputOffset()))
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if err == io.EOF {
				return
			}
			if err != nil {
				off := at
				var se *json.SyntaxError
				if errors.As(err, &se) {
					// Offset is just past the offending byte.
					off = max(at, pos+int(se.Offset)-1)
				} else if errors.Is(err, io.ErrUnexpectedEOF) {
					off = len(data)
				}
				// A value cut short runs into the next line and fails
				// there; read from that line again, but say it once.
				if off != lastFail {
					from, _ := d.lineCol(base + at)
					if to, _ := d.lineCol(base + off); to != from {
						err = fmt.Errorf("in the value from line %d: %v", from, err)
					}
					d.fail(base+off, fmt.Errorf("bad JSON: %v", err))
				}
				lastFail = off
				// The bad value began at at: go on with the line after.
				nl := bytes.IndexByte(data[at:], '\n')
				if nl < 0 {
					return
				}
				pos = at + nl + 1
				break
			}
			d.value(base+at, raw, 0)
		}
	}
}

// array reads a JSON array of findings; a syntax error ends it.
func (d *decoder) array(base int, data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		d.fail(base, fmt.Errorf("bad JSON: %v", err))
		return
	}
	for dec.More() {
		at := int(dec.InputOffset())
		at = skipSpace(data, at)
		if at < len(data) && data[at] == ',' {
			at = skipSpace(data, at+1)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			off := at
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = max(at, int(se.Offset)-1)
			}
			d.fail(base+off, fmt.Errorf("bad JSON in array (the rest of the input is not read): %v", err))
			return
		}
		d.value(base+at, raw, 0)
	}
	if _, err := dec.Token(); err != nil {
		d.fail(base+int(dec.InputOffset()), fmt.Errorf("bad JSON: %v", err))
	}
}

// rawFinding is a finding as JSON. encoding/json matches names without
// regard to case, so the export's camelCase (accountId), the CLI's and
// SDK's PascalCase (AccountId) and Security Hub's both read alike.
type rawFinding struct {
	// Wrappers: {"Findings":[...]} and EventBridge's {"detail-type":
	// "GuardDuty Finding","detail":{...}}.
	Findings   []json.RawMessage `json:"findings"`
	DetailType string            `json:"detail-type"`
	Detail     json.RawMessage   `json:"detail"`

	ID          string  `json:"id"`
	Arn         string  `json:"arn"`
	Type        string  `json:"type"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	AccountID   string  `json:"accountId"`
	Region      string  `json:"region"`
	Severity    flexNum `json:"severity"`
	CreatedAt   string  `json:"createdAt"`
	UpdatedAt   string  `json:"updatedAt"`
	Resource    struct {
		ResourceType     string `json:"resourceType"`
		AccessKeyDetails struct {
			AccessKeyID string `json:"accessKeyId"`
			PrincipalID string `json:"principalId"`
			UserName    string `json:"userName"`
			UserType    string `json:"userType"`
		} `json:"accessKeyDetails"`
	} `json:"resource"`
	Service struct {
		Archived       bool    `json:"archived"`
		Count          flexNum `json:"count"`
		EventFirstSeen string  `json:"eventFirstSeen"`
		EventLastSeen  string  `json:"eventLastSeen"`
		Action         struct {
			AwsAPICallAction struct {
				API             string `json:"api"`
				ServiceName     string `json:"serviceName"`
				RemoteIPDetails struct {
					IPAddressV4 string `json:"ipAddressV4"`
					IPAddressV6 string `json:"ipAddressV6"`
					Country     struct {
						CountryName string `json:"countryName"`
					} `json:"country"`
					Organization struct {
						AsnOrg string `json:"asnOrg"`
						Org    string `json:"org"`
					} `json:"organization"`
				} `json:"remoteIpDetails"`
			} `json:"awsApiCallAction"`
		} `json:"action"`
	} `json:"service"`
}

// flexNum is a number written as a JSON number or a string ("8.0").
type flexNum float64

func (n *flexNum) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %.40s", string(b))
	}
	*n = flexNum(v)
	return nil
}

// value handles one top-level JSON value (or one inside a wrapper).
func (d *decoder) value(off int, raw json.RawMessage, depth int) {
	if len(raw) == 0 || raw[0] != '{' {
		d.st.NotFindings++
		return
	}
	var rf rawFinding
	if err := json.Unmarshal(raw, &rf); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			err = fmt.Errorf("field %s: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		d.fail(off, fmt.Errorf("not a GuardDuty finding: %v", err))
		return
	}
	if depth == 0 && rf.Findings != nil {
		for _, el := range rf.Findings {
			d.value(off, el, depth+1)
		}
		return
	}
	if depth == 0 && len(rf.Detail) > 0 && strings.Contains(rf.DetailType, "GuardDuty") {
		d.value(off, rf.Detail, depth+1)
		return
	}
	if rf.Type == "" || (rf.ID == "" && rf.Arn == "") {
		d.st.NotFindings++
		return
	}
	f := convert(&rf)
	d.fn(f)
}

func clip(s string) string {
	if len(s) <= maxField {
		return s
	}
	cut := maxField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func convert(rf *rawFinding) *Finding {
	ak := rf.Resource.AccessKeyDetails
	call := rf.Service.Action.AwsAPICallAction
	ip := call.RemoteIPDetails.IPAddressV4
	if ip == "" {
		ip = call.RemoteIPDetails.IPAddressV6
	}
	org := call.RemoteIPDetails.Organization.AsnOrg
	if org == "" {
		org = call.RemoteIPDetails.Organization.Org
	}
	f := &Finding{
		ID: clip(rf.ID), Arn: clip(rf.Arn), Type: clip(rf.Type), Title: clip(rf.Title),
		Description: clip(rf.Description), AccountID: clip(rf.AccountID), Region: clip(rf.Region),
		Severity:  float64(rf.Severity),
		CreatedAt: parseTime(rf.CreatedAt), UpdatedAt: parseTime(rf.UpdatedAt),
		FirstSeen: parseTime(rf.Service.EventFirstSeen), LastSeen: parseTime(rf.Service.EventLastSeen),
		Count: int(max(0, min(float64(rf.Service.Count), 1<<31-1))), Archived: rf.Service.Archived,
		AccessKeyID: clip(ak.AccessKeyID), PrincipalID: clip(ak.PrincipalID), UserName: clip(ak.UserName), UserType: clip(ak.UserType),
		API: clip(call.API), ServiceName: clip(call.ServiceName), RemoteIP: clip(ip),
		RemoteCountry: clip(call.RemoteIPDetails.Country.CountryName), RemoteOrg: clip(org),
	}
	if f.ID == "" {
		if i := strings.LastIndexByte(f.Arn, '/'); i >= 0 {
			f.ID = f.Arn[i+1:]
		} else {
			f.ID = f.Arn
		}
	}
	if f.FirstSeen.IsZero() {
		f.FirstSeen = f.CreatedAt
	}
	if f.LastSeen.IsZero() {
		f.LastSeen = f.UpdatedAt
	}
	return f
}

// Set gathers the findings about keys and credentials from any number of
// inputs, once each (the latest update of a finding ID wins), up to
// MaxFindings.
type Set struct {
	Stats
	byID  map[string]int
	list  []*Finding
	Limit int // default MaxFindings
}

// Add keeps f if it is about keys or credentials, not archived, and the
// latest version of its ID.
func (s *Set) Add(f *Finding) {
	switch {
	case !f.AboutCredentials():
		s.OtherFindings++
		return
	case f.Archived:
		s.Archived++
		return
	}
	if s.byID == nil {
		s.byID = map[string]int{}
	}
	if i, ok := s.byID[f.ID]; ok {
		s.Duplicates++
		if f.UpdatedAt.After(s.list[i].UpdatedAt) {
			s.list[i] = f
		}
		return
	}
	limit := s.Limit
	if limit <= 0 {
		limit = MaxFindings
	}
	if len(s.list) >= limit {
		s.OverLimit++
		return
	}
	s.byID[f.ID] = len(s.list)
	s.list = append(s.list, f)
	s.Kept++
}

// Merge adds the counts of a Decode call.
func (s *Set) Merge(st Stats) { s.Stats.add(st) }

// Findings are the kept findings, in the order first seen.
func (s *Set) Findings() []*Finding { return s.list }

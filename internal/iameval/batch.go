package iameval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// The JSON-lines request contract: one request per line, each with its
// policies, as `keywarden policy simulate --batch` reads it and as the
// audit, the responder and tests may write it. docs/simulate.md describes
// it for users.

// MaxBatchLine bounds one line: a request with its policies. AWS's own
// policy limits are a few KiB; 8 MiB leaves room for several
// pretty-printed documents while keeping memory bounded.
const MaxBatchLine = 8 << 20

// AnonymousPrincipal is the Principal of an unsigned request.
const AnonymousPrincipal = "*"

// BatchRequest is one line of the contract. Only Action is required.
type BatchRequest struct {
	Action          string `json:"action"`
	Resource        string `json:"resource,omitempty"`
	ResourceAccount string `json:"resourceAccount,omitempty"`
	// Principal is the caller's ARN, account, service principal, or "*"
	// (or "anonymous") for an unsigned request. Empty: a user
	// simulated-user in the resource's account.
	Principal string `json:"principal,omitempty"`
	// Anonymous marks an unsigned request (no principal): only
	// resource-based policies and RCPs apply. It excludes Principal.
	Anonymous             bool                       `json:"anonymous,omitempty"`
	Context               map[string]json.RawMessage `json:"context,omitempty"`
	IdentityPolicies      []json.RawMessage          `json:"identityPolicies,omitempty"`
	PermissionsBoundaries []json.RawMessage          `json:"permissionsBoundaries,omitempty"`
	SCPs                  [][]json.RawMessage        `json:"scps,omitempty"`
	RCPs                  [][]json.RawMessage        `json:"rcps,omitempty"`
	ResourcePolicy        json.RawMessage            `json:"resourcePolicy,omitempty"`
	SessionPolicy         json.RawMessage            `json:"sessionPolicy,omitempty"`
	VPCEndpointPolicy     json.RawMessage            `json:"vpcEndpointPolicy,omitempty"`
}

// BatchItem is a decoded line: the policies that apply and the request.
type BatchItem struct {
	Set     PolicySet
	Request Request
}

// DecodeBatchRequest reads one line of the contract. Unknown fields are
// errors, so that a typo ("identityPolicy") is not silently ignored; the
// error names the field or policy at fault.
func DecodeBatchRequest(line []byte) (BatchItem, error) {
	var item BatchItem
	var req BatchRequest
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return item, fmt.Errorf("not a valid request object: %w", err)
	}
	if dec.More() {
		return item, errors.New("more than one JSON value on the line")
	}
	if why := ActionProblem(req.Action); why != "" {
		return item, fmt.Errorf("\"action\" %q %s", req.Action, why)
	}
	if req.Anonymous && req.Principal != "" {
		return item, errors.New("\"anonymous\": true and \"principal\" exclude each other (an anonymous request has no principal)")
	}
	if req.Resource == "" {
		req.Resource = "*"
	}
	ctx := NewContext()
	for k, raw := range req.Context {
		vals, multi, err := batchContextValue(raw)
		if err != nil {
			return item, fmt.Errorf("context key %q: %w", k, err)
		}
		if multi {
			ctx.SetMulti(k, vals...)
		} else {
			ctx.Set(k, vals...)
		}
	}
	doc := func(what string, raw json.RawMessage) (*iampolicy.Policy, error) {
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
		if len(raw) > iampolicy.MaxDocumentSize {
			return nil, fmt.Errorf("%s: larger than the %d-byte limit", what, iampolicy.MaxDocumentSize)
		}
		return iampolicy.Parse(what, raw)
	}
	set := &item.Set
	for i, raw := range req.IdentityPolicies {
		p, err := doc(fmt.Sprintf("identityPolicies[%d]", i), raw)
		if err != nil {
			return item, err
		}
		set.Identity = append(set.Identity, p)
	}
	for i, raw := range req.PermissionsBoundaries {
		p, err := doc(fmt.Sprintf("permissionsBoundaries[%d]", i), raw)
		if err != nil {
			return item, err
		}
		set.Boundary = append(set.Boundary, p)
	}
	levels := func(name string, in [][]json.RawMessage) ([][]*iampolicy.Policy, error) {
		var out [][]*iampolicy.Policy
		for i, lvl := range in {
			var l []*iampolicy.Policy
			for j, raw := range lvl {
				p, err := doc(fmt.Sprintf("%s[%d][%d]", name, i, j), raw)
				if err != nil {
					return nil, err
				}
				l = append(l, p)
			}
			out = append(out, l)
		}
		return out, nil
	}
	var err error
	if set.SCPs, err = levels("scps", req.SCPs); err != nil {
		return item, err
	}
	if set.RCPs, err = levels("rcps", req.RCPs); err != nil {
		return item, err
	}
	if set.Resource, err = doc("resourcePolicy", req.ResourcePolicy); err != nil {
		return item, err
	}
	sess, err := doc("sessionPolicy", req.SessionPolicy)
	if err != nil {
		return item, err
	}
	if sess != nil {
		set.Session = []*iampolicy.Policy{sess}
	}
	if set.VPCEndpoint, err = doc("vpcEndpointPolicy", req.VPCEndpointPolicy); err != nil {
		return item, err
	}
	principal := req.Principal
	switch {
	case req.Anonymous:
		principal = AnonymousPrincipal
	case principal == "":
		principal = DefaultPrincipal(req.Resource, req.ResourceAccount)
	}
	item.Request = Request{Action: req.Action, Resource: req.Resource, Principal: principal, ResourceAccount: req.ResourceAccount, Context: ctx}
	return item, nil
}

// batchContextValue reads a context value: a string (or a JSON boolean or
// number, read as its text) or a list of them (multi-valued).
func batchContextValue(raw json.RawMessage) ([]string, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, err
	}
	scalar := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case bool:
			if t {
				return "true", true
			}
			return "false", true
		case json.Number:
			return t.String(), true
		}
		return "", false
	}
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, x := range list {
			s, ok := scalar(x)
			if !ok {
				return nil, false, errors.New("list elements must be strings, booleans or numbers")
			}
			out = append(out, s)
		}
		return out, true, nil
	}
	s, ok := scalar(v)
	if !ok {
		return nil, false, errors.New("want a string or a list of strings")
	}
	return []string{s}, false, nil
}

// DefaultPrincipal invents a user in the resource's account when a
// request names no principal, so that identity policies apply and the
// request is not mistaken for a cross-account one.
func DefaultPrincipal(resource, account string) string {
	if account == "" {
		if parts := strings.SplitN(resource, ":", 6); len(parts) == 6 && len(parts[4]) == 12 {
			account = parts[4]
		}
	}
	if account == "" {
		account = "123456789012"
	}
	return "arn:aws:iam::" + account + ":user/simulated-user"
}

// actionRe is one action as a request names it: a service prefix and an
// action name, no wildcards.
var actionRe = lazyregexp.New(`^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$`)

// ActionProblem says what is wrong with a request's action, or "". A
// request names one action: a wildcard belongs in a policy, and evaluated
// literally it would answer a question nobody asked.
func ActionProblem(a string) string {
	switch {
	case strings.ContainsAny(a, "*?"):
		return "has a wildcard: a request names one action (simulate each action you mean)"
	case !actionRe().MatchString(a):
		return "is not of the form service:Action"
	}
	return ""
}

// BatchReader reads the lines of a JSON-lines stream without holding more
// than the line limit: the rest of an overlong line is skipped and
// reported. Blank lines are skipped and not counted as requests.
type BatchReader struct {
	br    *bufio.Reader
	limit int
	line  int
	done  bool
}

// NewBatchReader reads r with a line limit (MaxBatchLine when <= 0).
func NewBatchReader(r io.Reader, limit int) *BatchReader {
	if limit <= 0 {
		limit = MaxBatchLine
	}
	return &BatchReader{br: bufio.NewReaderSize(r, 64<<10), limit: limit}
}

// Limit is the line limit in bytes.
func (b *BatchReader) Limit() int { return b.limit }

// Next returns the next non-blank line and its number (from 1). tooLong
// reports a line over the limit, whose text is not kept. It returns io.EOF
// after the last line, and a read error with the number of the line it
// happened on.
func (b *BatchReader) Next() (line []byte, lineNo int, tooLong bool, err error) {
	for !b.done {
		line, tooLong, err = b.readLine()
		if err != nil && err != io.EOF {
			return nil, b.line + 1, false, err
		}
		if err == io.EOF {
			b.done = true
			if line == nil && !tooLong {
				break
			}
		}
		b.line++
		if !tooLong && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return line, b.line, tooLong, nil
	}
	return nil, b.line, false, io.EOF
}

func (b *BatchReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := b.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > b.limit {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
			return buf, tooLong, nil
		case io.EOF:
			if len(buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return buf, tooLong, io.EOF
		default:
			return nil, false, err
		}
	}
}

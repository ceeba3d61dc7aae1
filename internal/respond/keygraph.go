package respond

import (
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// Edge is one credential made with another: a session from
// GetSessionToken, AssumeRole or GetFederationToken, or an access key
// from CreateAccessKey.
type Edge struct {
	Parent    string    `json:"parent_key_id"`
	ParentARN string    `json:"parent_arn,omitempty"`
	Child     string    `json:"child_key_id"`
	Event     string    `json:"event"`
	Time      time.Time `json:"time"`
	EventID   string    `json:"event_id,omitempty"`
	// RoleARN is the role assumed (AssumeRole); User the user a created
	// key belongs to (CreateAccessKey).
	RoleARN string `json:"role_arn,omitempty"`
	User    string `json:"user,omitempty"`
}

// Graph records which credentials were derived from which, from the
// CloudTrail events that mint them. It is how respond follows a leaked
// key into its sessions and the keys it created, and how an ASIA key is
// traced back to the key behind it.
//
// Events arrive in any order (log files are not sorted), so the graph is
// built from every event first and asked afterwards; see Filter.
type Graph struct {
	children map[string][]Edge
	parent   map[string]Edge
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{children: map[string][]Edge{}, parent: map[string]Edge{}}
}

// Observe adds the edge an event records, if it mints a credential. The
// record is not kept.
func (g *Graph) Observe(r *cloudtrail.Record) {
	path := cloudtrail.MintedKeyPath(r.EventName)
	if path == nil || r.Failed() || r.UserIdentity.AccessKeyID == "" {
		return
	}
	child := firstValue(r.ResponseElements, path...)
	if !plausibleKey(child) || !plausibleKey(r.UserIdentity.AccessKeyID) || child == r.UserIdentity.AccessKeyID {
		return
	}
	e := Edge{Parent: strings.Clone(r.UserIdentity.AccessKeyID), ParentARN: strings.Clone(r.UserIdentity.ARN),
		Child: child, Event: strings.Clone(r.EventName), Time: r.EventTime, EventID: strings.Clone(r.EventID)}
	switch r.EventName {
	case "AssumeRole":
		e.RoleARN = firstValue(r.RequestParameters, "roleArn")
	case "CreateAccessKey":
		e.User = firstValue(r.ResponseElements, "accessKey", "userName")
	}
	g.add(e)
}

func (g *Graph) add(e Edge) {
	if _, dup := g.parent[e.Child]; dup {
		return
	}
	g.parent[e.Child] = e
	g.children[e.Parent] = append(g.children[e.Parent], e)
}

// plausibleKey accepts what CloudTrail writes as an access key ID: 20
// upper-case letters and digits (anonymised samples break the base32
// alphabet, so it is not checked). Anything else is not followed, and so
// never reaches a report.
func plausibleKey(s string) bool {
	if len(s) != 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// firstValue returns a copy of the first scalar at path in raw JSON.
func firstValue(raw []byte, path ...string) string {
	var out string
	cloudtrail.EachValue(raw, path, func(v string) bool {
		out = strings.Clone(v)
		return false
	})
	return out
}

// Origin returns the edge that made key, if the graph saw it.
func (g *Graph) Origin(key string) (Edge, bool) {
	e, ok := g.parent[key]
	return e, ok
}

// Root follows Origin back to the first key whose origin is unknown: for
// a session made from a session made from an AKIA key, that AKIA key.
func (g *Graph) Root(key string) string {
	seen := map[string]bool{}
	for !seen[key] {
		seen[key] = true
		e, ok := g.parent[key]
		if !ok {
			break
		}
		key = e.Parent
	}
	return key
}

// Derived returns the edges of every credential made from key, directly
// or through other derived credentials, in breadth-first order.
func (g *Graph) Derived(key string) []Edge {
	var out []Edge
	seen := map[string]bool{key: true}
	queue := []string{key}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, e := range g.children[k] {
			if seen[e.Child] {
				continue
			}
			seen[e.Child] = true
			out = append(out, e)
			queue = append(queue, e.Child)
		}
	}
	return out
}

// Keys returns key and every key derived from it, sorted.
func (g *Graph) Keys(key string) []string {
	keys := []string{key}
	for _, e := range g.Derived(key) {
		keys = append(keys, e.Child)
	}
	slices.Sort(keys)
	return keys
}

// Filter keeps the events of one key and of the sessions and keys derived
// from it. It is what `detect --key` needs: read the logs once into a
// Graph (Observe every record), then build the Filter and read them again
// keeping only what Keep accepts. (One pass is not enough: a session's
// events may be read before the event that minted it.)
type Filter struct {
	keys map[string]bool
}

// NewFilter returns the filter for key and everything g derived from it.
func NewFilter(g *Graph, key string) *Filter {
	f := &Filter{keys: map[string]bool{}}
	for _, k := range g.Keys(key) {
		f.keys[k] = true
	}
	return f
}

// Keep reports whether r was signed with one of the filter's keys.
func (f *Filter) Keep(r *cloudtrail.Record) bool {
	return f.keys[r.UserIdentity.AccessKeyID]
}

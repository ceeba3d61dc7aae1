package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/report"
)

// Caps on what one finding keeps, so a key that fires a rule a million
// times costs the same memory as one that fires it twice.
const (
	maxEventIDs = 20
	maxSamples  = 10
)

type stamped struct {
	t  time.Time
	id string
}

// group accumulates the events behind one finding.
type group struct {
	count       int
	first, last time.Time
	events      []stamped // earliest events (time, event id)
	latest      int       // index of the latest of events
	keyID       string
	principal   string
	account     string
	sources     []string
	regions     []string
	agents      []string
	names       []string
	evidence    []string
	created     []string
	undo        []string
}

func newGroup(c *compiled, r *cloudtrail.Record) *group {
	return &group{
		keyID:     strings.Clone(r.UserIdentity.AccessKeyID),
		principal: strings.Clone(r.Principal()),
		account:   strings.Clone(account(r)),
	}
}

func account(r *cloudtrail.Record) string {
	if r.UserIdentity.AccountID != "" {
		return r.UserIdentity.AccountID
	}
	return r.RecipientAccount
}

func addSample(list []string, v string) []string {
	if v == "" || len(list) >= maxSamples {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, strings.Clone(v))
}

// addSamples is addSample for each of vs.
func addSamples(list, vs []string) []string {
	for _, v := range vs {
		list = addSample(list, v)
	}
	return list
}

func (g *group) addEvent(t time.Time, id string) {
	// A burst window's first event may already be among the events merged
	// from the window's full group: list each event once.
	for _, e := range g.events {
		if e.id == id {
			return
		}
	}
	if len(g.events) < maxEventIDs {
		g.events = append(g.events, stamped{t, strings.Clone(id)})
		if t.After(g.events[g.latest].t) {
			g.latest = len(g.events) - 1
		}
		return
	}
	// Keep the earliest: replace the latest if this one is earlier. Logs
	// mostly arrive in time order, so this is usually one comparison.
	if !t.Before(g.events[g.latest].t) {
		return
	}
	g.events[g.latest] = stamped{t, strings.Clone(id)}
	for i, e := range g.events {
		if e.t.After(g.events[g.latest].t) {
			g.latest = i
		}
	}
}

func (g *group) addRecord(c *compiled, r *cloudtrail.Record) {
	g.count++
	t := r.EventTime
	if g.first.IsZero() || t.Before(g.first) {
		g.first = t
	}
	if t.After(g.last) {
		g.last = t
	}
	g.addEvent(t, r.EventID)
	g.sources = addSample(g.sources, r.SourceIPAddress)
	g.regions = addSample(g.regions, r.AWSRegion)
	g.agents = addSample(g.agents, r.UserAgent)
	g.names = addSample(g.names, r.EventName)
	for _, ev := range c.evidence {
		ev.each(r, func(v string) bool {
			if len(v) > 200 {
				v = v[:200] + "..."
			}
			g.evidence = addSample(g.evidence, ev.name+"="+v)
			return true
		})
	}
	for _, cf := range c.created {
		cf.get.each(r, func(v string) bool {
			if len(v) <= 200 {
				g.created = addSample(g.created, cf.what+" "+v)
			}
			return true
		})
	}
	for _, t := range c.undo {
		if len(g.undo) >= maxSamples {
			break
		}
		if u := t.fill(r); u != "" && len(u) <= 1000 {
			g.undo = addSample(g.undo, u)
		}
	}
}

func (g *group) merge(o *group) {
	g.count += o.count
	if g.first.IsZero() || (!o.first.IsZero() && o.first.Before(g.first)) {
		g.first = o.first
	}
	if o.last.After(g.last) {
		g.last = o.last
	}
	for _, e := range o.events {
		g.addEvent(e.t, e.id)
	}
	g.sources = addSamples(g.sources, o.sources)
	g.regions = addSamples(g.regions, o.regions)
	g.agents = addSamples(g.agents, o.agents)
	g.names = addSamples(g.names, o.names)
	g.evidence = addSamples(g.evidence, o.evidence)
	g.created = addSamples(g.created, o.created)
	g.undo = addSamples(g.undo, o.undo)
	if g.keyID == "" {
		g.keyID = o.keyID
	}
	if g.principal == "" {
		g.principal, g.account = o.principal, o.account
	}
}

func (g *group) clone() *group {
	n := &group{keyID: g.keyID, principal: g.principal, account: g.account}
	n.merge(g)
	return n
}

// Finding is one detection: a rule that fired for one actor (an access key,
// or a principal when there is none), with the events that triggered it.
type Finding struct {
	Rule *Rule
	// Actor is the full access key ID (or principal). Text output shows
	// Key(), the short form; JSON, CSV and SARIF carry it in full, since a
	// key ID is an identifier to paste into a revoke command, not a secret.
	Actor     string
	KeyID     string
	Principal string
	Account   string
	// Value is the new value of a first-seen finding.
	Value      string
	Count      int
	First      time.Time
	Last       time.Time
	EventIDs   []string
	Sources    []string
	Regions    []string
	UserAgents []string
	EventNames []string
	Evidence   []string
	// Created names what the events created ("access key AKIA...",
	// "user mallory").
	Created []string
	// Undo holds the commands that reverse the events, where there are.
	Undo   []string
	Detail []string
	// Suppressed says why the finding does not count (an --ignore entry).
	Suppressed string
}

func (g *group) finding(c *compiled, actor, value string) *Finding {
	ev := append([]stamped(nil), g.events...)
	sort.Slice(ev, func(i, j int) bool {
		if !ev[i].t.Equal(ev[j].t) {
			return ev[i].t.Before(ev[j].t)
		}
		return ev[i].id < ev[j].id
	})
	ids := make([]string, 0, len(ev))
	for _, e := range ev {
		if e.id != "" {
			ids = append(ids, e.id)
		}
	}
	sorted := func(s []string) []string {
		s = append([]string(nil), s...)
		sort.Strings(s)
		return s
	}
	return &Finding{
		Rule: c.Rule, Actor: actor, KeyID: g.keyID, Principal: g.principal, Account: g.account,
		Value: value, Count: g.count, First: g.first, Last: g.last, EventIDs: ids,
		Sources: sorted(g.sources), Regions: sorted(g.regions), UserAgents: sorted(g.agents),
		EventNames: sorted(g.names), Evidence: sorted(g.evidence),
		Created: sorted(g.created), Undo: sorted(g.undo),
	}
}

// Next lists what to do about the finding, first thing first: contain
// the key (keywarden respond), then each undo, then contain the keys the
// events created.
func (f *Finding) Next() []string {
	var out []string
	if k := f.ContainKey(); k != "" {
		out = append(out, "keywarden respond "+k)
	} else {
		out = append(out, "revoke the sessions of "+f.Principal+" (IAM: revoke active sessions) and reset its password if it has one")
	}
	out = append(out, f.Undo...)
	for _, c := range f.Created {
		if id, ok := strings.CutPrefix(c, "access key "); ok && id != f.ContainKey() {
			out = append(out, "keywarden respond "+id)
		}
	}
	return out
}

// ContainKey is the access key to contain for the finding: the actor's
// key. A console session (grouped under its principal and address) has
// none: its temporary keys rotate, the sessions are revoked instead.
func (f *Finding) ContainKey() string {
	if f.KeyID != "" && f.KeyID == f.Actor {
		return f.KeyID
	}
	return ""
}

// Key is the actor as it may be shown: a key ID redacted, a principal as
// is.
func (f *Finding) Key() string {
	if f.KeyID != "" && f.Actor == f.KeyID {
		return RedactKey(f.KeyID)
	}
	return f.Actor
}

// RedactKey hides the middle of an access key ID. Anonymised samples carry
// IDs outside the base32 alphabet; they are redacted the same way.
func RedactKey(id string) string {
	if len(id) == awskey.IDLength {
		return id[:4] + strings.Repeat("*", 12) + id[16:]
	}
	return awskey.Redact(id)
}

// Fingerprint identifies the finding across runs without revealing the key.
func (f *Finding) Fingerprint() string {
	h := sha256.Sum256([]byte(f.Rule.ID + "\x00" + f.Actor + "\x00" + f.Value))
	return hex.EncodeToString(h[:12])
}

// Message says what happened in one or two sentences.
func (f *Finding) Message() string {
	var b strings.Builder
	noun := "events"
	if f.Count == 1 {
		noun = "event"
	}
	if f.Value != "" && f.Rule.Kind != KindDormant {
		// First seen: the names and sources are those of the first event.
		if f.Rule.Dimension != "" {
			fmt.Fprintf(&b, "new %s ", f.Rule.Dimension)
		} else {
			b.WriteString("address ")
		}
		fmt.Fprintf(&b, "%s: first used at %s (%s", f.Value, stamp(f.First), strings.Join(f.EventNames, ", "))
		if len(f.Sources) > 0 {
			fmt.Fprintf(&b, " from %s", strings.Join(f.Sources, ", "))
		}
		if len(f.Regions) > 0 {
			fmt.Fprintf(&b, " in %s", strings.Join(f.Regions, ", "))
		}
		fmt.Fprintf(&b, "), %d %s until %s", f.Count, noun, stamp(f.Last))
		for _, d := range f.Detail {
			b.WriteString("; " + d)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%d %s (%s)", f.Count, noun, strings.Join(f.EventNames, ", "))
	if f.First.Equal(f.Last) {
		fmt.Fprintf(&b, " at %s", stamp(f.First))
	} else {
		fmt.Fprintf(&b, " from %s to %s", stamp(f.First), stamp(f.Last))
	}
	if len(f.Sources) > 0 {
		fmt.Fprintf(&b, " from %s", strings.Join(f.Sources, ", "))
	}
	if len(f.Regions) > 0 {
		fmt.Fprintf(&b, " in %s", strings.Join(f.Regions, ", "))
	}
	for _, d := range f.Detail {
		b.WriteString("; " + d)
	}
	return b.String()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

// Report converts the finding to the shared report.Finding.
func (f *Finding) Report() report.Finding {
	props := map[string]any{
		"key":         f.Actor,
		"principal":   f.Principal,
		"account":     f.Account,
		"event_count": f.Count,
		"first_seen":  stamp(f.First),
		"last_seen":   stamp(f.Last),
		"event_ids":   f.EventIDs,
		"event_names": f.EventNames,
		"source_ips":  f.Sources,
		"regions":     f.Regions,
		"user_agents": f.UserAgents,
		"attack":      f.Rule.Attack,
		"attack_name": f.Rule.AttackName,
		"tactic":      f.Rule.Tactic,
		"rule_kind":   f.Rule.Kind,
	}
	if f.Value != "" {
		props["new_value"] = f.Value
	}
	if len(f.Detail) > 0 {
		props["detail"] = f.Detail
	}
	if len(f.Created) > 0 {
		props["created"] = f.Created
	}
	props["next"] = f.Next()
	refs := append([]string{f.Rule.AttackURL()}, f.Rule.References...)
	return report.Finding{
		RuleID:      f.Rule.ID,
		Severity:    f.Rule.Severity,
		Title:       f.Rule.Title,
		Message:     f.Message(),
		Location:    report.Location{Resource: f.Actor, Date: stamp(f.First)},
		Evidence:    strings.Join(f.Evidence, "; "),
		Remediation: strings.TrimSpace(f.Rule.Remediation),
		References:  refs,
		Fingerprint: f.Fingerprint(),
		Suppressed:  f.Suppressed,
		Properties:  props,
	}
}

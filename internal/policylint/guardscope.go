package policylint

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// guardTolerated are the actions an MFA guard's NotAction may leave out:
// the self-service a user without MFA needs to enrol a device, the
// read-only calls the console's MFA page makes, and the authentication
// operations no policy controls anyway. Device removal is reported by its
// own rule.
var guardTolerated = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, a := range append(append([]string{
		"sts:GetSessionToken", "sts:GetCallerIdentity",
		"iam:GetMFADevice", "iam:GetAccountPasswordPolicy",
	}, selfService...), deviceRemoval...) {
		m[strings.ToLower(a)] = true
	}
	return m
})

// guardExemptions lists the catalogue actions the NotAction of an MFA
// guard exempts beyond guardTolerated: a request without MFA is not denied
// them, so any Allow of them (in this document or in another policy of the
// user) works with a leaked long-term key. known is false when a value
// cannot be judged (a Terraform expression).
func guardExemptions(s *iampolicy.Statement) (extra []string, known bool) {
	seen := map[string]bool{}
	for _, p := range s.NotAction.List {
		if unresolved(p) {
			return nil, false
		}
		for _, a := range patternExemptions(p) {
			if !seen[a] {
				seen[a] = true
				extra = append(extra, a)
			}
		}
	}
	return extra, true
}

// exemptCache remembers patternExemptions: the same NotAction patterns
// come back in every document of an account.
var exemptCache sync.Map

// patternExemptions lists the catalogue actions one NotAction pattern
// matches, other than the tolerated ones.
func patternExemptions(p string) []string {
	if v, ok := exemptCache.Load(p); ok {
		return v.([]string)
	}
	svcPat, _, ok := strings.Cut(p, ":")
	var svcs []string
	switch {
	case p == "*":
		svcs = iamdata.Services()
	case !ok:
	case strings.ContainsAny(svcPat, "*?"):
		for _, sv := range iamdata.Services() {
			if glob(svcPat, sv, true) {
				svcs = append(svcs, sv)
			}
		}
	default:
		svcs = []string{strings.ToLower(svcPat)}
	}
	var out []string
	for _, sv := range svcs {
		for _, n := range iamdata.Actions(sv) {
			a := sv + ":" + n
			if !guardTolerated()[strings.ToLower(a)] && glob(p, a, true) {
				out = append(out, a)
			}
		}
	}
	if exemptCacheSize.Add(1) <= 4096 {
		exemptCache.Store(p, out)
	}
	return out
}

var exemptCacheSize atomic.Int64

// guardScope flags an MFA guard whose NotAction exempts more than MFA
// self-service (iam:*, sts:*, iam:Get*): without MFA those actions are not
// denied.
func (l *linter) guardScope(s *iampolicy.Statement) {
	// Judged for every MFA deny, also one whose conditions skip long-term
	// keys: the exemptions stay when the condition is fixed.
	if !s.NotAction.Present || !mfaDeny(s) {
		return
	}
	extra, known := guardExemptions(s)
	if !known || len(extra) == 0 {
		return
	}
	shown := extra
	more := ""
	if len(shown) > 6 {
		more = fmt.Sprintf(" and %d more", len(extra)-6)
		shown = shown[:6]
	}
	l.add(RuleMFAGuardExemptsActions, 0, s, s.NotAction.Pos,
		fmt.Sprintf("The NotAction of this MFA deny exempts %d action(s) beyond MFA self-service, such as %s%s: without MFA they are not denied, so any Allow of them works with a leaked long-term key.", len(extra), strings.Join(shown, ", "), more),
		strings.Join(s.NotAction.List, ", "))
}

// guardsAll reports whether an MFA guard denies every action but the
// tolerated self-service ones.
func guardsAll(g *iampolicy.Statement) bool {
	if !g.Resource.Has("*") {
		return false
	}
	if g.Action.Has("*") {
		return true
	}
	if !g.NotAction.Present {
		return false
	}
	extra, known := guardExemptions(g)
	return known && len(extra) == 0
}

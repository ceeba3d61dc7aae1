package iamdata

import (
	"fmt"
	"path"
	"strings"

	"github.com/agext/levenshtein"
)

// ProblemKind says why an action matches nothing in the catalogue.
type ProblemKind int

// The kinds of Problem.
const (
	// NotAnAction is a value not written service:Action (AWS refuses it).
	NotAnAction ProblemKind = iota + 1
	// UnknownService is a service prefix the catalogue does not hold: a
	// service newer than the catalogue, or a typo.
	UnknownService
	// UnknownAction is a known service with no action of that name (or
	// none the pattern matches).
	UnknownAction
)

// Problem is an action or action pattern that matches nothing in the
// catalogue.
type Problem struct {
	Action string
	Kind   ProblemKind
	// Suggestion is the closest known action (or, for UnknownService, the
	// closest service prefix), or "" when none is close.
	Suggestion string
}

func (p Problem) String() string {
	var s string
	switch p.Kind {
	case NotAnAction:
		return fmt.Sprintf("%q is not an action: actions are written service:Action (s3:GetObject)", p.Action)
	case UnknownService:
		svc, _, _ := strings.Cut(p.Action, ":")
		s = fmt.Sprintf("%q: the service prefix %q is not in keywarden's action catalogue (iam-data %s): a service newer than the catalogue, or a typo", p.Action, svc, Version())
	default:
		svc, name, _ := strings.Cut(p.Action, ":")
		if strings.ContainsAny(name, "*?") || strings.ContainsAny(svc, "*?") {
			s = fmt.Sprintf("%q matches no action in keywarden's action catalogue", p.Action)
		} else {
			s = fmt.Sprintf("%q is not an action of %s", p.Action, strings.ToLower(svc))
		}
	}
	if p.Suggestion != "" {
		s += fmt.Sprintf(" (did you mean %s?)", p.Suggestion)
	}
	return s
}

// Check judges an action or action pattern as a policy writes it ("*",
// "s3:GetObject", "s3:Get*", "*:List*") against the catalogue, case-
// insensitively. It returns false when the value matches at least one
// known action, and otherwise says why it matches none.
func Check(action string) (Problem, bool) {
	once.Do(load)
	if action == "*" {
		return Problem{}, false
	}
	svc, name, ok := strings.Cut(action, ":")
	if !ok || svc == "" || name == "" || strings.Contains(name, ":") {
		return Problem{Action: action, Kind: NotAnAction}, true
	}
	svc, name = strings.ToLower(svc), strings.ToLower(name)
	if !strings.ContainsAny(svc, "*?") {
		if _, known := svcs[svc]; !known {
			return Problem{Action: action, Kind: UnknownService, Suggestion: closest(svc, Services())}, true
		}
		if !strings.ContainsAny(name, "*?") {
			if _, known := actions[svc+":"+name]; known {
				return Problem{}, false
			}
			if s := closest(name, svcs[svc]); s != "" {
				return Problem{Action: action, Kind: UnknownAction, Suggestion: svc + ":" + s}, true
			}
			return Problem{Action: action, Kind: UnknownAction}, true
		}
	}
	prefixes := []string{svc} // known: checked above
	if strings.ContainsAny(svc, "*?") {
		prefixes = nil
		for prefix := range svcs {
			if wildMatch(svc, prefix) {
				prefixes = append(prefixes, prefix)
			}
		}
	}
	for _, prefix := range prefixes {
		for _, n := range lower[prefix] {
			if wildMatch(name, n) {
				return Problem{}, false
			}
		}
	}
	return Problem{Action: action, Kind: UnknownAction}, true
}

// wildMatch matches a lower-case IAM pattern (* and ?) against a lower-case
// name. Action names hold only letters, digits, '-' and '_'; path.Match
// reads * and ? as IAM does, and a pattern with the characters it reads
// otherwise ('[', '\\', '/') matches no action.
func wildMatch(pattern, name string) bool {
	if strings.ContainsAny(pattern, "[\\/") {
		return false
	}
	ok, err := path.Match(pattern, name)
	return ok && err == nil
}

// closest returns the candidate nearest to s by edit distance (ignoring
// case), or "" when none is near enough to be a likely typo: at most one
// edit per eight characters, and at least one. (Looser, retired actions
// such as cloudhsm:ListHapgs get suggestions that are no typo of theirs:
// cloudhsm:ListTags.)
func closest(s string, candidates []string) string {
	limit := max(1, len(s)/8)
	best, bestD := "", limit+1
	for _, c := range candidates {
		// No MaxCost: levenshtein v1.2.1 indexes out of range with one
		// for some inputs. hclsyntax calls it the same way.
		if d := levenshtein.Distance(s, strings.ToLower(c), nil); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

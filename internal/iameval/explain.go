package iameval

import (
	"fmt"
	"io"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// StatementTrace says whether one statement applied to the request, and
// why not when it did not.
type StatementTrace struct {
	Ref    StatementRef `json:"statement"`
	Effect string       `json:"effect"`
	// Applies is "yes", "no" or "maybe" (maybe only in the exposure API).
	Applies string `json:"applies"`
	// Why is a sentence: which element did not match, or that all did.
	Why        string           `json:"why"`
	Conditions []ConditionTrace `json:"conditions,omitempty"`
}

// ConditionTrace is one condition's outcome.
type ConditionTrace struct {
	Operator     string   `json:"operator"`
	Key          string   `json:"key"`
	PolicyValues []string `json:"policyValues"`
	// RequestValues are the key's values in the request; Present is false
	// when the request did not carry the key.
	RequestValues []string `json:"requestValues,omitempty"`
	Present       bool     `json:"present"`
	Result        string   `json:"result"`
	// Note explains a rule that decided the outcome (the missing-key rule,
	// IfExists, a set operator).
	Note string `json:"note,omitempty"`
}

func (r *evalState) noteMissing(key string) {
	for _, k := range r.missing {
		if strings.EqualFold(k, key) {
			return
		}
	}
	r.missing = append(r.missing, key)
}

func (r *evalState) traceOf(s *cstmt, layer string, t tri, f failure, ci int) StatementTrace {
	st := StatementTrace{Ref: s.ref, Effect: string(s.src.Effect), Applies: t.String()}
	st.Ref.Layer = layer
	if st.Effect == "" {
		st.Effect = s.src.EffectRaw
	}
	switch f {
	case failEffect:
		st.Why = fmt.Sprintf("the Effect %q is not Allow or Deny", s.src.EffectRaw)
	case failAction:
		if s.notAct {
			st.Why = fmt.Sprintf("%s is excluded by NotAction %s", r.raw, list(s.src.NotAction.List))
		} else {
			st.Why = fmt.Sprintf("%s does not match Action %s", r.raw, list(s.src.Action.List))
		}
	case failResource:
		if s.notRes {
			st.Why = fmt.Sprintf("resource %s is excluded by NotResource %s", r.resource, list(s.src.NotResource.List))
		} else {
			st.Why = fmt.Sprintf("resource %s does not match Resource %s", r.resource, list(s.src.Resource.List))
		}
	case failPrincipal:
		switch {
		case s.prin == nil && s.notPri == nil:
			st.Why = "the statement has no Principal: AWS refuses it in a resource-based policy, so it applies to no one"
		case s.notPri != nil:
			st.Why = fmt.Sprintf("principal %s is listed in NotPrincipal", r.caller.raw)
		default:
			st.Why = fmt.Sprintf("principal %s is not named in Principal", r.caller.raw)
		}
	case failCondition:
		st.Why = fmt.Sprintf("condition %s on %s is not met", s.conds[ci].src.Operator, s.conds[ci].src.Key)
	default:
		if t == yes && (s.prin != nil || s.notPri != nil) {
			st.Why = "action, resource, principal and every condition match"
		} else if t == yes {
			st.Why = "action, resource and every condition match"
		} else {
			st.Why = "it may apply: it depends on " + strings.Join(r.deps, ", ")
		}
	}
	// Conditions are shown when the statement got as far as them.
	if f == failCondition || f == failNone {
		for i, c := range s.conds {
			if f == failCondition && i > ci {
				break
			}
			st.Conditions = append(st.Conditions, r.traceCond(c))
		}
	}
	return st
}

func (r *evalState) traceCond(c *ccond) ConditionTrace {
	// Re-evaluating is cheap and keeps the hot path free of bookkeeping.
	saved := len(r.deps)
	res := c.eval(r)
	r.deps = r.deps[:saved]
	ct := ConditionTrace{Operator: c.src.Operator, Key: c.src.Key, PolicyValues: c.src.Strings(), Result: res.String()}
	e := r.lookup(c.key)
	switch e.state {
	case ePresent:
		ct.Present = len(e.vals) > 0
		ct.RequestValues = e.vals
	case eUnknownValue:
		ct.Present = true
		ct.RequestValues = []string{"(unknown)"}
	case eMaybe:
		ct.RequestValues = []string{"(unknown: may be absent)"}
	}
	switch {
	case c.problem != "" && !c.known:
		ct.Note = c.problem
	case c.fam == iampolicy.FamilyNull:
		ct.Note = "Null tests whether the key is absent"
	case !ct.Present && e.state == eAbsent || (e.state == ePresent && len(e.vals) == 0):
		switch {
		case c.op.IfExists:
			ct.Note = "the key is absent, so the IfExists condition is true"
		case c.op.Set == "ForAllValues":
			ct.Note = "the key is absent: ForAllValues is true for an empty set"
		case c.op.Set == "ForAnyValue":
			ct.Note = "the key is absent: ForAnyValue is false for an empty set"
		case c.neg:
			ct.Note = "the key is absent, so the negated operator is true"
		default:
			ct.Note = "the key is absent from the request, so the condition is false"
		}
	}
	return ct
}

func list(vs []string) string {
	if len(vs) == 1 {
		return fmt.Sprintf("%q", vs[0])
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// WriteExplanation writes a result's trace in words.
func WriteExplanation(w io.Writer, res Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Decision: %s\n  %s\n", res.Decision, res.Reason)
	if len(res.MissingKeys) > 0 {
		fmt.Fprintf(&b, "Keys tested by policies but absent from the request (treated as absent, never as present): %s\n", strings.Join(res.MissingKeys, ", "))
	}
	layer := ""
	for _, st := range res.Trace {
		if st.Ref.Layer != layer {
			layer = st.Ref.Layer
			fmt.Fprintf(&b, "\n[%s]\n", layer)
		}
		mark := "  -"
		switch st.Applies {
		case "yes":
			mark = "  +"
		case "maybe":
			mark = "  ?"
		}
		fmt.Fprintf(&b, "%s %s %s: %s\n", mark, st.Effect, st.Ref.String(), st.Why)
		for _, c := range st.Conditions {
			req := "absent"
			if c.Present || len(c.RequestValues) > 0 {
				req = list(c.RequestValues)
			}
			fmt.Fprintf(&b, "      %s %s %s, request: %s -> %s", c.Operator, c.Key, list(c.PolicyValues), req, c.Result)
			if c.Note != "" {
				fmt.Fprintf(&b, " (%s)", c.Note)
			}
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

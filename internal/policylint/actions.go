package policylint

import (
	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
)

// actions flags Action and NotAction values that match nothing in the
// built-in catalogue. A value close to a known action is a typo, and the
// severity follows what the typo does: a Deny that misses the action meant
// lets it through (medium), and so does an Allow's NotAction that fails to
// leave it out; an Allow that grants nothing, or a Deny's NotAction that
// fails to exempt, only breaks use (low). A value close to nothing is most
// often an action AWS retired (policies AWS accepted years ago keep them:
// iam:RequestSmsMfaRegistration, cloudhsm:ListHapgs) or a service newer
// than the catalogue: info.
func (l *linter) actions(s *iampolicy.Statement) {
	for _, el := range []struct {
		not bool
		v   iampolicy.Values
	}{{false, s.Action}, {true, s.NotAction}} {
		for i, a := range el.v.List {
			if unresolved(a) {
				continue
			}
			p, bad := iamdata.Check(a)
			if !bad {
				continue
			}
			sev, what := unknownActionEffect(s.Effect, el.not, p)
			pos := el.v.Pos
			if i < len(el.v.At) {
				pos = el.v.At[i]
			}
			l.add(RuleUnknownAction, sev, s, pos, p.String()+". "+what, a)
		}
	}
}

func unknownActionEffect(effect iampolicy.Effect, not bool, p iamdata.Problem) (report.Severity, string) {
	switch {
	case p.Kind == iamdata.NotAnAction:
		return report.SeverityMedium, "AWS refuses the document, so none of its protections is in force."
	case p.Kind == iamdata.UnknownService:
		return report.SeverityInfo, "If it is a typo, the statement does not cover the action meant."
	case p.Suggestion == "":
		return report.SeverityInfo, "An action AWS retired, or a misspelling: either way it matches no request."
	case effect == iampolicy.Deny && !not:
		return report.SeverityMedium, "This Deny does not refuse the action meant: a leaked key is not stopped from calling it."
	case effect == iampolicy.Allow && not:
		return report.SeverityMedium, "This Allow's NotAction does not leave out the action meant: it is granted."
	case effect == iampolicy.Deny:
		return report.SeverityLow, "This Deny's NotAction does not exempt the action meant: it stays denied."
	}
	return report.SeverityLow, "This Allow grants nothing by it: the action meant stays refused."
}

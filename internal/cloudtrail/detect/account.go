package detect

import (
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// accountOf returns the 12-digit account ID a value names: a bare ID, or
// the account field of an ARN (arn:aws:iam::123456789012:root,
// arn:aws:kms:eu-west-1:123456789012:key/...). "" when it names none.
func accountOf(v string) string {
	if isAccountID(v) {
		return v
	}
	if !strings.HasPrefix(v, "arn:") {
		return ""
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) < 6 || !isAccountID(parts[4]) {
		return ""
	}
	return parts[4]
}

// accountRE is compiled on first use, not at start: every command (the
// pre-commit hook's scan among them) would otherwise pay for it.
var accountRE = lazyregexp.New(`^[0-9]{12}$`)

func isAccountID(s string) bool { return accountRE().MatchString(s) }

// otherAccount reports whether v names everyone ("*") or an account other
// than own. A value that names no account (a bucket ARN, an alias) is not
// another account's.
func otherAccount(v, own string) bool {
	if v == "*" {
		return true
	}
	a := accountOf(v)
	return a != "" && own != "" && a != own
}

// limitingKeys are condition keys that confine a "*" principal to known
// callers (an organisation, an account, a network): such a statement does
// not open the resource to everyone.
var limitingKeys = map[string]bool{
	"aws:principalorgid": true, "aws:principalorgpaths": true, "aws:principalaccount": true,
	"aws:principalarn": true, "aws:sourceaccount": true, "aws:sourcearn": true,
	"aws:sourceorgid": true, "aws:sourceorgpaths": true, "aws:sourcevpce": true,
	"aws:sourcevpc": true, "aws:sourceip": true, "aws:userid": true, "aws:username": true,
}

// grantsOutside reports whether a resource policy (as CloudTrail logs it:
// a JSON object, a JSON string, sometimes URL-encoded) allows everyone or
// another account than own. Deny statements (the common "deny insecure
// transport" for Principal "*") and wildcard principals confined by a
// condition on the organisation, account or network do not count.
func grantsOutside(doc, own string) bool {
	p, err := parseLoggedPolicy(doc)
	if err != nil {
		return false
	}
	for _, st := range p.Statements {
		if st.Effect != iampolicy.Allow || st.Principal == nil {
			continue
		}
		limited := false
		for _, c := range st.Conditions {
			if limitingKeys[strings.ToLower(c.Key)] {
				limited = true
			}
		}
		if st.Principal.Wildcard {
			if !limited {
				return true
			}
			continue
		}
		for _, v := range st.Principal.Types["AWS"] {
			if v == "*" && !limited {
				return true
			}
			if v != "*" && otherAccount(v, own) {
				return true
			}
		}
	}
	return false
}

package iameval

// Authentication operations are outside policy evaluation. AWS documents
// that "no permissions are required for a user to get a session token ...
// you cannot use policies to control authentication operations", and that
// sts:GetCallerIdentity works even under an explicit Deny. Policies that
// require MFA rely on this: they exempt sts:GetSessionToken from their
// Deny but need not Allow it. GetSessionToken itself must be signed with
// an IAM user's or the root user's long-term key; temporary credentials
// (any session, including one GetSessionToken made) cannot call it.
type authRule uint8

const (
	authNone authRule = iota
	// authAlways: allowed whatever the policies say.
	authAlways
	// authSessionCreds: GetSessionToken called with temporary credentials.
	authSessionCreds
)

// authOperation classifies the request; action is lower-case.
func (r *evalState) authOperation() authRule {
	k := r.caller.kind
	iamPrincipal := k == pUser || k == pRole || k == pSession || k == pFederated || k == pRoot
	if !iamPrincipal {
		return authNone
	}
	switch r.action {
	case "sts:getcalleridentity":
		return authAlways
	case "sts:getsessiontoken":
		if k != pUser && k != pRoot {
			return authSessionCreds
		}
		// A user's request carries aws:MultiFactorAuthPresent only when it
		// is signed with temporary credentials (a console or
		// GetSessionToken session); a long-term key has none.
		switch r.lookup(keyMFAPresent).state {
		case eAbsent:
			return authAlways
		case ePresent, eUnknownValue:
			return authSessionCreds
		}
	}
	return authNone
}

const keyMFAPresent = "aws:multifactorauthpresent"

// applyAuthOperation overrides the verdict of the policies for an
// authentication operation. The trace keeps what the policies said; the
// statement hits are dropped, since none of them decided anything.
func (r *evalState) applyAuthOperation(v verdict) verdict {
	switch r.authOperation() {
	case authAlways:
		r.hits, r.inert = r.hits[:0], r.inert[:0]
		r.deps = r.deps[:0]
		return verdict{deny: no, allow: yes, reasons: []reason{{kind: rsAuthOperation}}}
	case authSessionCreds:
		r.hits, r.inert = r.hits[:0], r.inert[:0]
		r.deps = r.deps[:0]
		return verdict{deny: no, allow: no, reasons: []reason{{kind: rsAuthSessionCreds}}}
	}
	return v
}

package iameval

import (
	"strings"
)

// principalKind is the type of caller.
type principalKind uint8

const (
	pUnknown principalKind = iota
	pUser
	pRoot
	pRole        // a role ARN given as the caller
	pSession     // arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
	pFederated   // arn:aws:sts::ACCT:federated-user/NAME
	pService     // a service principal, e.g. s3.amazonaws.com
	pAnonymous   // "*" or "anonymous"
	pCanonical   // an S3 canonical user ID
	pWebIdentity // a federated (OIDC/SAML) provider name
)

// caller is a parsed request principal.
type caller struct {
	raw       string
	kind      principalKind
	partition string
	account   string
	name      string // user name, role name, federated user name
	roleARN   string // sessions: the role's ARN
	ptype     string // aws:PrincipalType
}

func parseCaller(s string) caller {
	c := caller{raw: s, partition: "aws"}
	switch {
	case s == "" || s == "*" || strings.EqualFold(s, "anonymous"):
		c.kind = pAnonymous
		c.ptype = "Anonymous"
		return c
	case strings.HasPrefix(s, "arn:"):
	case strings.HasSuffix(s, ".amazonaws.com") || strings.HasSuffix(s, ".amazonaws.com.cn"):
		c.kind = pService
		return c
	case len(s) == 12 && allDigits(s):
		c.kind = pRoot
		c.account = s
		c.raw = "arn:aws:iam::" + s + ":root"
		c.ptype = "Account"
		return c
	default:
		c.kind = pCanonical
		return c
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 {
		return c
	}
	c.partition, c.account = parts[1], parts[4]
	svc, res := parts[2], parts[5]
	switch {
	case svc == "iam" && res == "root":
		c.kind, c.ptype = pRoot, "Account"
	case svc == "iam" && strings.HasPrefix(res, "user/"):
		c.kind, c.ptype = pUser, "User"
		c.name = res[strings.LastIndexByte(res, '/')+1:]
	case svc == "iam" && strings.HasPrefix(res, "role/"):
		c.kind, c.ptype = pRole, "AssumedRole"
		c.name = res[strings.LastIndexByte(res, '/')+1:]
	case svc == "sts" && strings.HasPrefix(res, "assumed-role/"):
		c.kind, c.ptype = pSession, "AssumedRole"
		f := strings.Split(res, "/")
		if len(f) >= 3 {
			c.name = f[1]
			c.roleARN = "arn:" + c.partition + ":iam::" + c.account + ":role/" + f[1]
		}
	case svc == "sts" && strings.HasPrefix(res, "federated-user/"):
		c.kind, c.ptype = pFederated, "FederatedUser"
		c.name = strings.TrimPrefix(res, "federated-user/")
	case svc == "iam" && (strings.HasPrefix(res, "saml-provider/") || strings.HasPrefix(res, "oidc-provider/")):
		c.kind = pWebIdentity
	}
	return c
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// rootARN is the account principal's ARN.
func (c *caller) rootARN() string {
	if c.account == "" {
		return ""
	}
	return "arn:" + c.partition + ":iam::" + c.account + ":root"
}

// grant is how a resource-based policy statement names the caller, which
// decides what else must allow the request in the same account.
type grant uint8

const (
	grantNone     grant = iota
	grantAccount        // the caller's account: identity policies must allow too
	grantIndirect       // the role of a session (or the user of a federated session): boundary and session policy still limit
	grantDirect         // the caller itself, or everyone ("*")
)

// principalPat is one compiled Principal entry.
type principalPat struct {
	typ string // AWS, Service, Federated, CanonicalUser
	val string
}

// principalMatch says how a Principal element names the caller (grantNone
// when it does not).
func principalMatch(pr *compiledPrincipal, c *caller) grant {
	if pr.wildcard {
		return grantDirect
	}
	best := grantNone
	for _, p := range pr.pats {
		g := matchOne(p, c)
		if g > best {
			best = g
		}
	}
	return best
}

func matchOne(p principalPat, c *caller) grant {
	switch p.typ {
	case "AWS":
		v := p.val
		if v == "*" {
			return grantDirect
		}
		if c.kind == pService || c.kind == pAnonymous || c.kind == pCanonical || c.kind == pWebIdentity {
			return grantNone
		}
		if v == c.raw {
			// A role ARN given as the caller stands for its sessions:
			// naming the role still leaves the boundary and session
			// policies to allow.
			if c.kind == pRole {
				return grantIndirect
			}
			return grantDirect
		}
		if c.account != "" && (v == c.account || v == c.rootARN()) {
			if c.kind == pRoot {
				return grantDirect
			}
			return grantAccount
		}
		if c.kind == pSession && v == c.roleARN {
			return grantIndirect
		}
		// A federated user session (GetFederationToken) named by its IAM
		// user: the session policy still limits it.
		if c.kind == pFederated && c.account != "" && v == "arn:"+c.partition+":iam::"+c.account+":user/"+c.name {
			return grantIndirect
		}
	case "Service":
		if c.kind == pService && strings.EqualFold(p.val, c.raw) {
			return grantDirect
		}
	case "Federated":
		if (c.kind == pWebIdentity || c.kind == pUnknown) && p.val == c.raw {
			return grantDirect
		}
	case "CanonicalUser":
		if c.kind == pCanonical && p.val == c.raw {
			return grantDirect
		}
	}
	return grantNone
}

// notPrincipalExcludes reports whether a NotPrincipal element leaves the
// caller out. AWS checks the account first, then the role, then the
// session, and documents that the account must be listed along with the
// user, or along with the role (or its session); otherwise the whole
// account is denied. It also documents that a Deny with NotPrincipal
// always applies to an IAM principal that has a permissions boundary.
func notPrincipalExcludes(pr *compiledPrincipal, c *caller, hasBoundary bool) bool {
	if pr.wildcard {
		return true
	}
	if hasBoundary && (c.kind == pUser || c.kind == pRole || c.kind == pSession) {
		return false
	}
	listed := func(typ, v string) bool {
		for _, p := range pr.pats {
			if p.typ == typ && p.val == v {
				return true
			}
		}
		return false
	}
	if listed("AWS", "*") && c.kind != pService && c.kind != pCanonical && c.kind != pWebIdentity {
		return true
	}
	acct := func() bool { return listed("AWS", c.account) || listed("AWS", c.rootARN()) }
	switch c.kind {
	case pUser, pRole, pFederated:
		return listed("AWS", c.raw) && acct()
	case pSession:
		return (listed("AWS", c.raw) || listed("AWS", c.roleARN)) && acct()
	case pRoot:
		return acct()
	case pService:
		for _, p := range pr.pats {
			if p.typ == "Service" && strings.EqualFold(p.val, c.raw) {
				return true
			}
		}
	case pCanonical:
		return listed("CanonicalUser", c.raw)
	case pWebIdentity, pUnknown:
		return listed("Federated", c.raw) || listed("AWS", c.raw)
	}
	return false
}

// notPrincipalNames reports whether a NotPrincipal element of an Allow
// statement names the caller, which leaves it out of the grant: "every
// principal except these". The caller is named by its own ARN, by its
// account (ID or :root ARN), by the role of its session, or by "*".
func notPrincipalNames(pr *compiledPrincipal, c *caller) bool {
	if pr.wildcard {
		return true
	}
	for _, p := range pr.pats {
		if p.typ == "AWS" && p.val == "*" && c.kind != pService && c.kind != pCanonical && c.kind != pWebIdentity {
			return true
		}
		if matchOne(p, c) != grantNone {
			return true
		}
	}
	return false
}

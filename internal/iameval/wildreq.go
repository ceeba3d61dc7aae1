package iameval

// A request made for "*" (an action with no resource type, such as
// s3:ListAllMyBuckets, or a list action asked about every resource) has
// no ARN to match. AWS documents such grants with ARN patterns that cover
// the service's resources: "arn:aws:s3:::*" for s3:ListAllMyBuckets
// (Amazon S3 User Guide, "Policy examples": "Listing all buckets"), and a
// path pattern such as "arn:aws:iam::ACCOUNT:user/*" for iam:ListUsers
// (IAM User Guide, "Controlling access to IAM resources": list actions).
// So a statement's Resource matches a "*" request when it is "*", or when
// it is a pattern that ends in a free "*" and shares at least one ARN with
// the action's service in the caller's account (or in no account, as S3's
// ARNs have none): the two patterns intersect.

// wpat is a pattern: its bytes and what each position is.
type wpat struct {
	pat  []byte
	wild []wildKind
}

// coversAll reports whether the glob could cover every resource of the
// action's service for a request made for "*".
func (g *glob) coversAll(r *evalState) tri {
	switch g.kind {
	case gAll:
		return yes
	case gExact, gPrefix, gGeneral:
	default:
		rg, t := g.resolve(r)
		if t != yes {
			return t
		}
		g = rg
	}
	if g.kind == gAll {
		return yes
	}
	n := len(g.wild)
	if n == 0 || g.wild[n-1] != wStar {
		return no
	}
	p := wpat{g.pat, g.wild}
	if r.caller.account != "" && intersect(p, serviceARN(r.caller.partition, r.svc, r.caller.account)) {
		return yes
	}
	return triOf(intersect(p, serviceARN(r.caller.partition, r.svc, "")))
}

// serviceARN is the pattern of every ARN of a service in one account
// (any region): arn:PARTITION:SERVICE:*:ACCOUNT:*, region star bound to
// its segment.
func serviceARN(partition, svc, acct string) wpat {
	if partition == "" {
		partition = "aws"
	}
	s := "arn:" + partition + ":" + svc + ":*:" + acct + ":*"
	p := wpat{pat: []byte(s), wild: make([]wildKind, len(s))}
	region := len("arn:" + partition + ":" + svc + ":")
	p.wild[region] = wStarNoColon
	p.wild[len(s)-1] = wStar
	return p
}

// intersect reports whether some string matches both patterns. It is a
// dynamic programme over positions (i in a, j in b): linear in the
// product of the lengths, whatever the patterns.
func intersect(a, b wpat) bool {
	n, m := len(a.pat), len(b.pat)
	if n*m > maxMatchWork {
		return false
	}
	w := m + 1
	seen := make([]bool, (n+1)*w)
	stack := []int{0}
	seen[0] = true
	push := func(i, j int) {
		if k := i*w + j; !seen[k] {
			seen[k] = true
			stack = append(stack, k)
		}
	}
	star := func(k wildKind) bool { return k == wStar || k == wStarNoColon }
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, j := k/w, k%w
		if i == n && j == m {
			return true
		}
		// A star may match nothing.
		if i < n && star(a.wild[i]) {
			push(i+1, j)
		}
		if j < m && star(b.wild[j]) {
			push(i, j+1)
		}
		if i == n || j == m {
			continue
		}
		ka, kb := a.wild[i], b.wild[j]
		switch {
		case star(ka) && star(kb):
			// Both stars consume one common byte (a non-colon one
			// always exists).
			push(i, j+1)
			push(i+1, j)
		case star(ka):
			if kb == wOne || ka == wStar || b.pat[j] != ':' {
				push(i, j+1)
			}
		case star(kb):
			if ka == wOne || kb == wStar || a.pat[i] != ':' {
				push(i+1, j)
			}
		case ka == wOne || kb == wOne || a.pat[i] == b.pat[j]:
			push(i+1, j+1)
		}
	}
	return false
}

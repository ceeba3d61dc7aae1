// Package policygen builds the IAM policy that makes a leaked long-term
// access key useless: API calls are refused unless the caller used MFA,
// and optionally unless they come from allowed networks. It renders the
// policy as IAM JSON, as a Terraform configuration and as a CloudFormation
// template.
//
// The write-ups this replaces get the idea right and the details wrong in
// ways that silently let keys through; every statement here is built so
// that `keywarden policy lint` finds nothing in it, and the reasons are in
// the comments next to each statement.
package policygen

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// ServiceException says how the network guard lets through calls that AWS
// services make on the user's behalf, which carry the service's address
// rather than the user's.
type ServiceException string

const (
	// ViaAWSService exempts every call an AWS service makes on the user's
	// behalf (BoolIfExists aws:ViaAWSService false). Every service is
	// covered; the cost is that the address check only applies to the
	// user's own first call, not to what a service then does for it.
	ViaAWSService ServiceException = "via-aws-service"
	// CalledVia exempts only calls made through the named services
	// (aws:CalledViaFirst). Narrower, but AWS fills that key for a few
	// services only (Athena, CloudFormation, DynamoDB, KMS), so calls
	// through any other service still break.
	CalledVia ServiceException = "called-via"
)

// DefaultCalledVia are the services that populate aws:CalledVia.
var DefaultCalledVia = []string{
	"athena.amazonaws.com",
	"cloudformation.amazonaws.com",
	"dynamodb.amazonaws.com",
	"kms.amazonaws.com",
}

// DefaultGroup names the group when --group is not given.
const DefaultGroup = "mfa-required"

// Options is what the user asked for.
type Options struct {
	// Group is the IAM group the policy is attached to.
	Group string
	// PolicyName names the managed policy; default "<group>-mfa".
	PolicyName string
	// Grant are the actions members may perform once they used MFA.
	Grant []string
	// GrantManaged are managed policy ARNs attached to the group.
	GrantManaged []string
	// MaxSessionAge bounds how long ago the MFA sign-in may be; 0 = none.
	MaxSessionAge time.Duration
	// AllowCIDR are the public networks API calls may come from.
	AllowCIDR []string
	// AllowVPCE are VPC endpoint IDs requests may come through.
	AllowVPCE []string
	// Exception chooses how service calls pass the network guard.
	Exception ServiceException
	// CalledViaServices for Exception == CalledVia; default DefaultCalledVia.
	CalledViaServices []string
	// Members are IAM user names added to the group.
	Members []string
	// AllowKeyEnrollment lets requests signed with a long-term key enrol
	// an MFA device (for users without console access). Off by default:
	// see DenyMFAEnrollmentWithLongTermKeys.
	AllowKeyEnrollment bool
}

// Spec is the validated, normalised plan every renderer works from.
type Spec struct {
	Group        string
	PolicyName   string
	Description  string
	Document     iampolicy.Document
	GrantManaged []string
	Members      []string
	// Warnings are things the user should know but that do not stop
	// generation (an IPv4-only allowlist, say).
	Warnings []string
	// Networks is the normalised allowlist (for comments).
	Networks []netip.Prefix
}

// The self-service actions a user without MFA keeps, so that a new user can
// enrol a device and get an MFA session. Deactivating or deleting a device
// is deliberately not here: that needs MFA.
var (
	// selfServiceOwn act on the caller's own user or MFA device ARN.
	selfServiceOwn = []string{
		"iam:ChangePassword",
		"iam:CreateVirtualMFADevice",
		"iam:EnableMFADevice",
		"iam:GetUser",
		"iam:ListMFADevices",
		"iam:ResyncMFADevice",
	}
	// selfServiceAny have no resource (AWS evaluates them against "*").
	selfServiceAny = []string{
		"iam:ListVirtualMFADevices",
		"sts:GetSessionToken",
	}
	removeDevice = []string{"iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice"}
	enrolDevice  = []string{"iam:CreateVirtualMFADevice", "iam:EnableMFADevice"}
)

// SelfServiceActions returns every action the MFA guard leaves to users
// without MFA, sorted.
func SelfServiceActions() []string {
	out := append(append([]string(nil), selfServiceOwn...), selfServiceAny...)
	slices.Sort(out)
	return out
}

// The caller's own user and MFA device. Policy variables need Version
// 2012-10-17, which every document here declares.
const (
	ownUser = "arn:aws:iam::*:user/${aws:username}"
	ownMFA  = "arn:aws:iam::*:mfa/${aws:username}"
)

var (
	iamName     = lazyregexp.New(`^[\w+=,.@-]+$`)
	vpceID      = lazyregexp.New(`^vpce-[0-9a-f]{8}([0-9a-f]{9})?$`)
	actionRe    = lazyregexp.New(`^([a-zA-Z0-9-]+:[a-zA-Z0-9*?]+|\*)$`)
	managedARN  = lazyregexp.New(`^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$`)
	serviceHost = lazyregexp.New(`^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$`)
)

// Build validates opts and builds the policy.
func Build(opts Options) (*Spec, error) {
	s := &Spec{Group: opts.Group}
	if s.Group == "" {
		s.Group = DefaultGroup
	}
	if len(s.Group) > 128 || !iamName().MatchString(s.Group) {
		return nil, fmt.Errorf("invalid group name %q: IAM group names are 1-128 characters of letters, digits and +=,.@_-", s.Group)
	}
	s.PolicyName = opts.PolicyName
	if s.PolicyName == "" {
		s.PolicyName = s.Group + "-mfa"
	}
	if len(s.PolicyName) > 128 || !iamName().MatchString(s.PolicyName) {
		return nil, fmt.Errorf("invalid policy name %q: IAM policy names are 1-128 characters of letters, digits and +=,.@_-", s.PolicyName)
	}
	for _, a := range opts.Grant {
		if !actionRe().MatchString(a) {
			return nil, fmt.Errorf("invalid --grant action %q: want service:Action, wildcards allowed (ec2:*, s3:Get*)", a)
		}
		// A misspelt grant writes a policy that grants nothing by it:
		// say so, with the closest known action.
		if p, bad := iamdata.Check(a); bad {
			s.Warnings = append(s.Warnings, "--grant "+p.String())
		}
	}
	for _, a := range opts.GrantManaged {
		if !managedARN().MatchString(a) {
			return nil, fmt.Errorf("invalid --grant-managed ARN %q: want arn:aws:iam::aws:policy/NAME or arn:aws:iam::ACCOUNT:policy/NAME", a)
		}
	}
	for _, m := range opts.Members {
		if len(m) > 64 || !iamName().MatchString(m) {
			return nil, fmt.Errorf("invalid --member %q: IAM user names are 1-64 characters of letters, digits and +=,.@_-", m)
		}
	}
	s.GrantManaged = dedupe(opts.GrantManaged)
	s.Members = dedupe(opts.Members)
	nets, warn, err := ParseAllowlist(opts.AllowCIDR)
	if err != nil {
		return nil, err
	}
	s.Networks = nets
	s.Warnings = append(s.Warnings, warn...)
	for _, v := range opts.AllowVPCE {
		if !vpceID().MatchString(v) {
			return nil, fmt.Errorf("invalid --allow-vpce %q: a VPC endpoint ID is vpce- and 8 or 17 hex digits", v)
		}
	}
	vpces := dedupe(opts.AllowVPCE)
	exc := opts.Exception
	if exc == "" {
		exc = ViaAWSService
	}
	if exc != ViaAWSService && exc != CalledVia {
		return nil, fmt.Errorf("unknown service exception %q (want %s or %s)", exc, ViaAWSService, CalledVia)
	}
	called := opts.CalledViaServices
	if exc == CalledVia && len(called) == 0 {
		called = DefaultCalledVia
	}
	for _, c := range called {
		if !serviceHost().MatchString(c) {
			return nil, fmt.Errorf("invalid service %q: want a service principal such as cloudformation.amazonaws.com", c)
		}
	}
	var maxAge int64
	if opts.MaxSessionAge != 0 {
		if opts.MaxSessionAge < time.Minute || opts.MaxSessionAge%time.Second != 0 {
			return nil, fmt.Errorf("--max-session-age %s: want whole seconds, at least 1m", opts.MaxSessionAge)
		}
		// GetSessionToken sessions last at most 36 h; a longer bound binds nothing.
		if opts.MaxSessionAge > 36*time.Hour {
			return nil, fmt.Errorf("--max-session-age %s: longer than the 36h an MFA session can last, so it would bind nothing", opts.MaxSessionAge)
		}
		maxAge = int64(opts.MaxSessionAge / time.Second)
	}

	var st []iampolicy.DocStatement
	if grant := dedupe(opts.Grant); len(grant) > 0 {
		// The grant carries no MFA condition of its own: the Deny below
		// refuses every non-self-service call without MFA, whatever Allow
		// (this one, a managed policy, another group's) would let it through.
		st = append(st, iampolicy.DocStatement{Sid: "AllowGrantedActions", Effect: iampolicy.Allow, Action: grant, Resource: iampolicy.StringOrList{"*"}})
	}
	st = append(st,
		iampolicy.DocStatement{Sid: "AllowListVirtualMFADevices", Effect: iampolicy.Allow,
			Action: iampolicy.StringOrList{"iam:ListVirtualMFADevices"}, Resource: iampolicy.StringOrList{"*"}},
		iampolicy.DocStatement{Sid: "AllowManageOwnMFAAndPassword", Effect: iampolicy.Allow,
			Action: selfServiceOwn, Resource: iampolicy.StringOrList{ownMFA, ownUser}},
		iampolicy.DocStatement{Sid: "AllowRemoveOwnMFADeviceOnlyWithMFA", Effect: iampolicy.Allow,
			Action: removeDevice, Resource: iampolicy.StringOrList{ownMFA, ownUser},
			// Bool without IfExists: the key is absent for long-term keys, so
			// this Allow never applies to them. The Deny below blocks them too.
			Condition: cond("Bool", "aws:MultiFactorAuthPresent", "true")},
		// The guard. BoolIfExists: a request signed with a long-term key has
		// no aws:MultiFactorAuthPresent at all, and IfExists makes an absent
		// key count as a match, so the Deny applies to it; temporary sessions
		// made without MFA carry "false" and are denied too. A plain Bool
		// would skip long-term keys entirely.
		iampolicy.DocStatement{Sid: "DenyAllExceptMFASelfServiceWithoutMFA", Effect: iampolicy.Deny,
			NotAction: SelfServiceActions(), Resource: iampolicy.StringOrList{"*"},
			Condition: cond("BoolIfExists", "aws:MultiFactorAuthPresent", "false")},
		// The guard's NotAction exempts the self-service actions on every
		// resource; this keeps that exemption to the caller's own user and
		// device, so a key without MFA cannot enrol a device on someone else.
		iampolicy.DocStatement{Sid: "DenySelfServiceOnOthersWithoutMFA", Effect: iampolicy.Deny,
			Action: selfServiceOwn, NotResource: iampolicy.StringOrList{ownMFA, ownUser},
			Condition: cond("BoolIfExists", "aws:MultiFactorAuthPresent", "false")},
	)
	if opts.AllowKeyEnrollment {
		s.Warnings = append(s.Warnings, "--allow-key-enrollment: a request signed with a long-term key may enrol an MFA device without MFA, so whoever holds a leaked key can enrol their own device and pass every MFA check (policy lint reports kw-mfa-key-enrollment)")
	} else {
		// IAM lets a user have up to eight MFA devices, and a user who has
		// none yet can enrol one without MFA: so whoever holds a leaked
		// long-term key could enrol their own device and then pass every
		// MFA check. A request signed with a long-term key is exactly one
		// without aws:MultiFactorAuthPresent, which Null = true matches;
		// console sessions carry the key ("false") and can still enrol, and
		// a session from GetSessionToken without MFA cannot call IAM at all.
		st = append(st, iampolicy.DocStatement{Sid: "DenyMFAEnrollmentWithLongTermKeys", Effect: iampolicy.Deny,
			Action: enrolDevice, Resource: iampolicy.StringOrList{"*"},
			Condition: cond("Null", "aws:MultiFactorAuthPresent", "true")})
	}
	if maxAge > 0 {
		// aws:MultiFactorAuthAge is absent from long-term-key requests and
		// from sessions made without MFA. NumericGreaterThanIfExists treats
		// the absent key as a match, so this Deny binds them as well as MFA
		// sessions older than the bound. A plain NumericGreaterThan would be
		// false for an absent key and let every long-term key through; adding
		// "Null": true to this same statement would be wrong too, because
		// conditions in one statement are ANDed and an MFA session (key
		// present) would then never be bound.
		st = append(st, iampolicy.DocStatement{Sid: "DenyMFASessionsOlderThanMaxAge", Effect: iampolicy.Deny,
			NotAction: SelfServiceActions(), Resource: iampolicy.StringOrList{"*"},
			Condition: cond("NumericGreaterThanIfExists", "aws:MultiFactorAuthAge", strconv.FormatInt(maxAge, 10))})
	}
	if len(nets) > 0 || len(vpces) > 0 {
		c := map[string]map[string][]string{}
		if len(nets) > 0 {
			// NotIpAddress with an absent aws:SourceIp (a request through a
			// VPC endpoint) is true, so such requests are denied unless the
			// endpoint is allowed below.
			c["NotIpAddress"] = map[string][]string{"aws:SourceIp": prefixStrings(nets)}
		}
		switch exc {
		case ViaAWSService:
			c["BoolIfExists"] = map[string][]string{"aws:ViaAWSService": {"false"}}
		case CalledVia:
			c["StringNotEqualsIfExists"] = map[string][]string{"aws:CalledViaFirst": dedupe(called)}
		}
		if len(vpces) > 0 {
			// Present (through an endpoint) and not one of ours: deny. Absent
			// (not through an endpoint): IfExists makes it true, so the other
			// conditions decide. Listed: false, the request passes.
			if _, ok := c["StringNotEqualsIfExists"]; !ok {
				c["StringNotEqualsIfExists"] = map[string][]string{}
			}
			c["StringNotEqualsIfExists"]["aws:SourceVpce"] = vpces
		}
		st = append(st, iampolicy.DocStatement{Sid: "DenyOutsideAllowedNetworks", Effect: iampolicy.Deny,
			Action: iampolicy.StringOrList{"*"}, Resource: iampolicy.StringOrList{"*"}, Condition: c})
	}
	s.Document = iampolicy.Document{Version: iampolicy.Version2012, Statement: st}
	if n := policySize(s.Document); n > MaxManagedPolicySize {
		return nil, fmt.Errorf("the policy is %d characters long without white space; AWS accepts at most %d in a managed policy: grant fewer actions one by one (use wildcards such as ec2:Describe*) or attach managed policies with --grant-managed", n, MaxManagedPolicySize)
	}
	s.Description = describe(opts, s, maxAge, vpces)
	return s, nil
}

// MaxManagedPolicySize is AWS's limit on a customer managed policy,
// counted without white space.
const MaxManagedPolicySize = 6144

func policySize(d iampolicy.Document) int {
	b, err := json.Marshal(d)
	if err != nil {
		return 0
	}
	// Marshal writes no white space of its own; what remains is inside
	// values, which AWS counts.
	return len(b)
}

func describe(opts Options, s *Spec, maxAge int64, vpces []string) string {
	d := "Requires MFA for every API call except MFA self-service"
	if maxAge > 0 {
		d += fmt.Sprintf(", MFA no older than %ds", maxAge)
	}
	if len(s.Networks) > 0 || len(vpces) > 0 {
		d += ", and calls from allowed networks only"
	}
	d += ". Generated by keywarden policy mfa."
	return d
}

func cond(op, key string, vals ...string) map[string]map[string][]string {
	return map[string]map[string][]string{op: {key: vals}}
}

// ParseAllowlist validates and normalises --allow-cidr values. A bare
// address is a /32 (or /128). Private and reserved ranges are refused:
// aws:SourceIp only ever holds public addresses, so they would never match
// and their users would be locked out.
func ParseAllowlist(in []string) ([]netip.Prefix, []string, error) {
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	v4, v6 := false, false
	for _, raw := range in {
		p, err := iampolicy.ParseIPValue(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid --allow-cidr %q: want an IPv4 or IPv6 address or CIDR (203.0.113.0/24, 2001:db8::/32)", raw)
		}
		if p.Addr().Is4In6() {
			return nil, nil, fmt.Errorf("invalid --allow-cidr %q: write IPv4-mapped addresses as plain IPv4", raw)
		}
		if p.Masked() != p {
			return nil, nil, fmt.Errorf("invalid --allow-cidr %q: host bits are set; did you mean %s?", raw, p.Masked())
		}
		if p.Bits() == 0 {
			return nil, nil, fmt.Errorf("--allow-cidr %q allows every address: the network guard would do nothing", raw)
		}
		if r, ok := iampolicy.ReservedRange(p); ok {
			return nil, nil, fmt.Errorf("--allow-cidr %s is inside the private or reserved range %s: aws:SourceIp only ever holds the public address AWS sees a request come from (your NAT gateway's or office's public IP), never a private one, so this range would never match; list the public egress addresses instead, and use --allow-vpce for traffic through VPC endpoints", raw, r)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		if p.Addr().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	var warn []string
	if v4 && !v6 {
		warn = append(warn, "the network allowlist is IPv4 only: callers reaching AWS over IPv6 (dual-stack endpoints) will be denied; add your IPv6 prefixes with --allow-cidr if your networks have them")
	}
	return out, warn, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

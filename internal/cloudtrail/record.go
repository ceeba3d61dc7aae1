// Package cloudtrail reads AWS CloudTrail records wherever they lie (files,
// directories, gzip, stdin, S3 buckets laid out by CloudTrail, the
// LookupEvents API) into one fixed struct, fast enough to sweep months of
// logs on a laptop.
//
// Only the fields detection needs are decoded. requestParameters,
// responseElements, additionalEventData and resources are kept as raw JSON and read
// lazily (Record.Lookup) by the few rules that look inside them: most
// events match no such rule and never pay for it.
package cloudtrail

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Record is one CloudTrail event. Its strings and raw fields alias the
// reader's buffer, which is reused once the next record is decoded:
// anything kept beyond the callback must be copied (strings.Clone).
type Record struct {
	EventVersion     string
	EventTime        time.Time
	EventSource      string
	EventName        string
	EventType        string
	EventCategory    string
	EventID          string
	RequestID        string
	AWSRegion        string
	SourceIPAddress  string
	UserAgent        string
	ErrorCode        string
	ErrorMessage     string
	RecipientAccount string
	VPCEndpointID    string
	// VPCEndpointAccount is vpcEndpointAccountId: the account that owns
	// the VPC endpoint the call came through.
	VPCEndpointAccount string
	ReadOnly           Bool
	ManagementEvent    Bool
	// FromConsole is sessionCredentialFromConsole: the call was made by
	// the AWS console with the signed-in user's session credentials.
	FromConsole       Bool
	UserIdentity      UserIdentity
	RequestParameters []byte
	ResponseElements  []byte
	AdditionalData    []byte
	// Resources is the raw resources array (ARNs the call touched: the
	// KMS key of a Decrypt, which its requestParameters do not name).
	Resources []byte
	// Events is how many events of the window the record stands for when
	// it comes from a reduced query (keywarden's own "keywardenEvents"
	// key, written by detect --athena); 0 for an event read as is. Only
	// an engine told so (detect.Options.KeyWeights) reads it.
	Events int64
}

// UserIdentity is the caller. A call signed with a long-term key has no
// sessionContext; HasSession says whether one was present.
type UserIdentity struct {
	Type             string
	PrincipalID      string
	ARN              string
	AccountID        string
	AccessKeyID      string
	UserName         string
	InvokedBy        string
	HasSession       bool
	MFAAuthenticated Bool
	IssuerType       string
	IssuerARN        string
	IssuerUserName   string
}

// Bool is a CloudTrail boolean, which arrives as true/false or as the
// strings "true"/"false" depending on the event.
type Bool uint8

// Bool values: Unset when the field is absent or not a recognisable
// boolean.
const (
	Unset Bool = iota
	False
	True
)

func parseBool(s string) Bool {
	switch s {
	case "true", "True", "TRUE":
		return True
	case "false", "False", "FALSE":
		return False
	}
	return Unset
}

// IsTrue reports whether b is true.
func (b Bool) IsTrue() bool { return b == True }

// String is "true", "false" or "".
func (b Bool) String() string {
	switch b {
	case True:
		return "true"
	case False:
		return "false"
	}
	return ""
}

// Failed reports whether the call failed (it has an error code).
func (r *Record) Failed() bool { return r.ErrorCode != "" }

// Principal names the caller for grouping when there is no access key:
// the ARN, else the principal ID, else the identity type.
func (r *Record) Principal() string {
	u := &r.UserIdentity
	switch {
	case u.ARN != "":
		return u.ARN
	case u.PrincipalID != "":
		return u.PrincipalID
	case u.InvokedBy != "":
		return u.InvokedBy
	}
	return u.Type
}

// Actor is the identity findings are grouped by: the access key ID when
// the call was signed with one, else the principal. A console session is
// one actor however many temporary keys the console rotates through: the
// principal and the address it signed in from (ConsoleActor).
func (r *Record) Actor() string {
	if r.ConsoleSession() {
		return ConsoleActor(r.Principal(), r.SourceIPAddress)
	}
	if r.UserIdentity.AccessKeyID != "" {
		return r.UserIdentity.AccessKeyID
	}
	return r.Principal()
}

// ConsoleSession reports whether the record belongs to a human's console
// session: the sign-in itself, or a call the console made with the
// session's temporary credentials.
func (r *Record) ConsoleSession() bool {
	if r.FromConsole == True {
		return true
	}
	// A failed sign-in is no session: failures stay grouped by principal,
	// whatever address they come from.
	return r.EventName == "ConsoleLogin" && r.EventSource == "signin.amazonaws.com" && r.ErrorMessage == "" && r.ErrorCode == ""
}

// ConsoleActor names a console session: who, and from where.
func ConsoleActor(principal, source string) string {
	return principal + " (console from " + source + ")"
}

// LongTermKey reports whether the call was signed with a long-term (AKIA)
// access key. Anonymised samples break the base32 alphabet, so the prefix
// alone decides.
func (r *Record) LongTermKey() bool {
	return strings.HasPrefix(r.UserIdentity.AccessKeyID, "AKIA")
}

// SourceAddr parses sourceIPAddress. It fails for service host names
// ("ec2.amazonaws.com"), "AWS Internal" and garbage, which must not count
// as network locations. Dotted quads with leading zeros (seen in
// anonymised samples) are accepted and normalised.
func (r *Record) SourceAddr() (netip.Addr, bool) {
	return ParseAddr(r.SourceIPAddress)
}

// ParseAddr parses an IP address as CloudTrail writes it.
func ParseAddr(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	c := s[0]
	if !(c >= '0' && c <= '9') && !strings.ContainsRune(s, ':') {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	// Leading zeros: "211.9.016.253".
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return netip.Addr{}, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

// Network is the /24 (IPv4) or /48 (IPv6) network of an address, the unit
// in which a user's addresses usually stay.
func Network(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p
}

// parseTime reads eventTime: "2024-07-30T21:53:13Z" on the fast path, any
// RFC 3339 form ("+00:00", fractional seconds) otherwise.
func parseTime(s string) (time.Time, bool) {
	if len(s) == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z' {
		y, ok1 := atoiN(s[0:4])
		mo, ok2 := atoiN(s[5:7])
		d, ok3 := atoiN(s[8:10])
		h, ok4 := atoiN(s[11:13])
		mi, ok5 := atoiN(s[14:16])
		se, ok6 := atoiN(s[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && se < 61 {
			return time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC), true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func atoiN(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Package awskey knows the shape of AWS access key IDs and secret access
// keys: which prefix means what, whether an ID is well formed, which account
// an ID belongs to (decoded offline, without asking AWS), and how to show a
// key without revealing it.
//
// Everything here is a pure function over strings so that the scanner, the
// auditor, the vault and the CloudTrail rules agree on one definition.
package awskey

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
)

// Kind says what an identifier with a given four-letter prefix names.
type Kind string

// The kinds of unique identifier AWS issues. Only the first four are
// credentials; the rest identify principals and policies and are safe to
// publish.
const (
	KindLongTerm          Kind = "long-term access key"        // AKIA
	KindTemporary         Kind = "temporary access key"        // ASIA
	KindBearerToken       Kind = "STS bearer token"            // ABIA
	KindContextCredential Kind = "context-specific credential" // ACCA
	KindUser              Kind = "IAM user ID"                 // AIDA
	KindRole              Kind = "IAM role ID"                 // AROA
	KindGroup             Kind = "IAM group ID"                // AGPA
	KindManagedPolicy     Kind = "managed policy ID"           // ANPA
	KindPolicyVersion     Kind = "managed policy version ID"   // ANVA
	KindInstanceProfile   Kind = "instance profile ID"         // AIPA
	KindPublicKey         Kind = "public key ID"               // APKA
	KindCertificate       Kind = "certificate ID"              // ASCA
	KindUnknown           Kind = "unknown"
)

// prefixes maps every documented unique-ID prefix to its kind.
var prefixes = map[string]Kind{
	"AKIA": KindLongTerm,
	"ASIA": KindTemporary,
	"ABIA": KindBearerToken,
	"ACCA": KindContextCredential,
	"AIDA": KindUser,
	"AROA": KindRole,
	"AGPA": KindGroup,
	"ANPA": KindManagedPolicy,
	"ANVA": KindPolicyVersion,
	"AIPA": KindInstanceProfile,
	"APKA": KindPublicKey,
	"ASCA": KindCertificate,
}

// CredentialPrefixes are the prefixes of identifiers that authenticate API
// calls. The scanner reports these and nothing else.
var CredentialPrefixes = []string{"AKIA", "ASIA", "ABIA", "ACCA"}

// IDLength is the length of every access key ID.
const IDLength = 20

// SecretLength is the length of every secret access key.
const SecretLength = 40

// ExampleKeyID and ExampleSecret are AWS's documentation example pair. They
// appear in countless READMEs and must be reported as examples, not leaks.
const (
	ExampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	ExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// IsExampleID reports whether id is one of AWS's documentation examples.
// AWS documents several IDs ending in EXAMPLE (AKIAIOSFODNN7EXAMPLE,
// AKIAI44QH8DHBEXAMPLE, ASIAIOSFODNN7EXAMPLE ...), so the suffix decides.
func IsExampleID(id string) bool {
	return len(id) == IDLength && strings.HasSuffix(id, "EXAMPLE")
}

// IsExampleSecret reports whether s is one of AWS's documentation example
// secrets (they all end in EXAMPLEKEY).
func IsExampleSecret(s string) bool {
	return len(s) == SecretLength && strings.HasSuffix(s, "EXAMPLEKEY")
}

// KindOf returns the kind named by the first four characters of id.
func KindOf(id string) Kind {
	if len(id) < 4 {
		return KindUnknown
	}
	if k, ok := prefixes[id[:4]]; ok {
		return k
	}
	return KindUnknown
}

// IsCredentialKind reports whether k authenticates API calls.
func IsCredentialKind(k Kind) bool {
	switch k {
	case KindLongTerm, KindTemporary, KindBearerToken, KindContextCredential:
		return true
	}
	return false
}

// isBase32 reports whether every byte of s is in the RFC 4648 base32
// alphabet used by key IDs (A-Z, 2-7).
func isBase32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// IsSecretChar reports whether c may appear in a secret access key.
func IsSecretChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '+'
}

// LooksLikeSecret reports whether s has the shape of a secret access key:
// exactly 40 characters of the base64 alphabet. Shape alone proves little
// (a secret has no checksum); callers need context to call it a secret.
func LooksLikeSecret(s string) bool {
	if len(s) != SecretLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsSecretChar(s[i]) {
			return false
		}
	}
	return true
}

// ID is the result of inspecting one identifier.
type ID struct {
	Value      string `json:"id"`
	Prefix     string `json:"prefix"`
	Kind       Kind   `json:"kind"`
	Credential bool   `json:"credential"`
	WellFormed bool   `json:"well_formed"`
	// Account is the 12-digit account ID decoded from the ID, empty when
	// the ID predates the encoding (AKIAI..., AKIAJ...) or is malformed.
	Account string `json:"account,omitempty"`
	Example bool   `json:"example"`
	// Problem says why the ID is not well formed.
	Problem string `json:"problem,omitempty"`
}

// Inspect describes id. It never fails: a malformed ID comes back with
// WellFormed false and Problem set.
func Inspect(id string) ID {
	r := ID{Value: id, Kind: KindUnknown}
	if len(id) >= 4 {
		r.Prefix = id[:4]
		r.Kind = KindOf(id)
	}
	r.Credential = IsCredentialKind(r.Kind)
	r.Example = IsExampleID(id)
	switch {
	case len(id) != IDLength:
		r.Problem = fmt.Sprintf("is %d characters long, an AWS ID has %d", len(id), IDLength)
	case r.Kind == KindUnknown:
		r.Problem = fmt.Sprintf("prefix %q is not one AWS uses", sanitize(id[:4]))
	case !isBase32(id[4:]):
		r.Problem = "characters after the prefix must be A-Z or 2-7"
	default:
		r.WellFormed = true
		r.Account, _ = AccountID(id)
	}
	return r
}

// Valid reports whether id is a well-formed identifier of a known prefix.
func Valid(id string) bool {
	return len(id) == IDLength && KindOf(id) != KindUnknown && isBase32(id[4:])
}

// ValidCredentialID reports whether id is a well-formed access key ID of a
// credential prefix.
func ValidCredentialID(id string) bool {
	return Valid(id) && IsCredentialKind(KindOf(id))
}

// AccountID decodes the 12-digit account ID carried by a key ID. It returns
// false for IDs that predate the encoding (AKIAI..., AKIAJ...): IDs that
// carry an account have the top bit of their first decoded byte set, so
// their fifth character is one of Q-Z or 2-7.
//
// The method: base32-decode the 16 characters after the prefix, read the
// first 6 bytes big-endian, mask with 0x7fffffffff80 and shift right by 7.
func AccountID(id string) (string, bool) {
	if len(id) != IDLength || !isBase32(id[4:]) {
		return "", false
	}
	var raw [10]byte
	if _, err := base32.StdEncoding.Decode(raw[:], []byte(id[4:])); err != nil {
		return "", false
	}
	if raw[0]&0x80 == 0 {
		return "", false
	}
	var b [8]byte
	copy(b[2:], raw[:6])
	n := (binary.BigEndian.Uint64(b[:]) & 0x7fffffffff80) >> 7
	return fmt.Sprintf("%012d", n), true
}

// Redact shows enough of a credential to recognise it and no more: the
// prefix and the last four characters of an ID, the first and last few of
// a secret. Anything short is hidden entirely.
func Redact(s string) string {
	switch {
	case len(s) == IDLength && KindOf(s) != KindUnknown:
		return s[:4] + strings.Repeat("*", 12) + s[16:]
	case len(s) >= 16:
		return s[:4] + strings.Repeat("*", len(s)-8) + s[len(s)-4:]
	case len(s) > 0:
		return strings.Repeat("*", len(s))
	}
	return ""
}

// RedactTail keeps only the last four characters (the form the AWS console
// shows): "****************ABCD".
func RedactTail(s string) string {
	if len(s) <= 4 {
		return strings.Repeat("*", len(s))
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}

// sanitize keeps user input printable in error messages.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

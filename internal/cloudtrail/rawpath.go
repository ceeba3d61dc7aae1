package cloudtrail

import "unsafe"

// EachValue calls fn with every value found at path inside raw JSON (a
// requestParameters or responseElements object). Arrays met on the way are
// flattened, so "items.instanceType" reaches every item's type whatever the
// nesting. Scalars come as text (strings unquoted, true/false/numbers as
// written); an object or array at the end of the path comes as its raw
// JSON. fn returns false to stop. Malformed JSON yields nothing more.
func EachValue(raw []byte, path []string, fn func(v string) bool) {
	if len(raw) == 0 {
		return
	}
	s := scanner{b: raw, final: true}
	eachValue(&s, path, fn, 0)
}

func eachValue(s *scanner, path []string, fn func(string) bool, depth int) bool {
	c, err := s.ws()
	if err != nil || depth > 64 {
		return false
	}
	if c == '[' {
		s.pos++
		if c, err = s.ws(); err != nil {
			return false
		}
		if c == ']' {
			s.pos++
			return true
		}
		for {
			if !eachValue(s, path, fn, depth+1) {
				return false
			}
			if c, err = s.ws(); err != nil {
				return false
			}
			s.pos++
			if c == ']' {
				return true
			}
			if c != ',' {
				return false
			}
		}
	}
	if len(path) == 0 {
		if c == '{' {
			start := s.pos
			if s.skip(0) != nil {
				return false
			}
			return fn(unsafe.String(&s.b[start], s.pos-start))
		}
		v, _, err := s.scalar()
		if err != nil {
			return false
		}
		return fn(v)
	}
	if c != '{' {
		return s.skip(0) == nil
	}
	cont := true
	err = s.object(func(k string) error {
		if cont && k == path[0] {
			if !eachValue(s, path[1:], fn, depth+1) {
				cont = false
				return errStop
			}
			return nil
		}
		return s.skip(0)
	})
	return err == nil && cont
}

var errStop = &SyntaxError{Msg: "stop"}

// mintedKeyPaths says, for each call that hands out new credentials,
// where its responseElements name the new access key ID. detect follows
// these to tie a key to the keys and sessions it made (--key), and respond
// to trace a session back to its key: one table, so both see the same
// calls.
var mintedKeyPaths = map[string][]string{
	"CreateAccessKey":           {"accessKey", "accessKeyId"},
	"GetSessionToken":           {"credentials", "accessKeyId"},
	"GetFederationToken":        {"credentials", "accessKeyId"},
	"AssumeRole":                {"credentials", "accessKeyId"},
	"AssumeRoleWithSAML":        {"credentials", "accessKeyId"},
	"AssumeRoleWithWebIdentity": {"credentials", "accessKeyId"},
	"GetRoleCredentials":        {"roleCredentials", "accessKeyId"},
}

// MintedKeyPath returns where the response of the call eventName names the
// access key it minted, or nil when the call mints none.
func MintedKeyPath(eventName string) []string { return mintedKeyPaths[eventName] }

package secretscan

import (
	"bytes"
	"net/url"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
)

// Amazon Bedrock API keys
// (https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html) are
// bearer tokens: whoever holds one calls Bedrock (and pays with the
// account) without an access key. Their two shapes, both checked by
// decoding them, so that a word that only starts like one is not reported:
//
//   - long-term: "ABSK" then the base64 of "BedrockAPIKey-<id>-at-<account>:<secret>",
//     the name and the secret of an IAM service-specific credential (the
//     IAM user BedrockAPIKey-<id> that the console creates);
//   - short-term: "bedrock-api-key-" then the base64 of a SigV4 presigned
//     URL without its scheme, "bedrock.amazonaws.com/?Action=CallWithBearerToken&…
//     &X-Amz-Credential=ASIA…%2F<date>%2F<region>%2Fbedrock%2Faws4_request&…&Version=1",
//     signed with the key whose ID it names (valid 12 hours at most).

// Bedrock describes a Bedrock API key found.
type Bedrock struct {
	// LongTerm is true for an ABSK key, false for a short-term token.
	LongTerm bool
	// User is the IAM user of a long-term key (BedrockAPIKey-…).
	User string
	// KeyID, Region and Expires come from a short-term token's presigned
	// URL: the access key that signed it, where, and when it stops working.
	KeyID   string
	Region  string
	Expires time.Time
}

const (
	bedrockLongPrefix  = "ABSK"
	bedrockShortPrefix = "bedrock-api-key-"
	// bedrockMaxLength bounds the tokens decoded: a short-term token
	// carries a session token, so a few kilobytes.
	bedrockMaxLength = 16 << 10
)

// bedrockRun looks at a run of base64 characters data[a:b] found by
// findValues, and keeps it when it is a Bedrock API key. It returns false
// when the run is not one (the caller goes on with it).
func (s *scan) bedrockRun(a, b int) bool {
	data := s.data
	start := a
	long := bytes.HasPrefix(data[a:b], []byte(bedrockLongPrefix))
	switch {
	case long:
	case a >= len(bedrockShortPrefix) && string(data[a-len(bedrockShortPrefix):a]) == bedrockShortPrefix:
		start = a - len(bedrockShortPrefix)
	default:
		return false
	}
	// The token must stand alone: not the end of a longer word.
	if start > 0 && (isAlnum(data[start-1]) || data[start-1] == '-' || data[start-1] == '_') {
		return false
	}
	end := b
	for k := 0; k < 2 && end < len(data) && data[end] == '='; k++ {
		end++
	}
	if end < len(data) && (isAlnum(data[end]) || data[end] == '-' || data[end] == '_') || end-start > bedrockMaxLength {
		return false
	}
	enc := data[a:end]
	if long {
		enc = enc[len(bedrockLongPrefix):]
	}
	dec := decodeBase64(enc)
	if dec == nil {
		return false
	}
	var br Bedrock
	var account string
	var ok bool
	if long {
		br, account, ok = parseBedrockLong(dec)
	} else {
		br, account, ok = parseBedrockShort(dec)
	}
	if !ok {
		return false
	}
	s.bedrock = append(s.bedrock, bedrockHit{start: start, end: end, value: string(data[start:end]), info: br, account: account})
	return true
}

// bedrockHit is a Bedrock API key found at data[start:end].
type bedrockHit struct {
	start, end int
	value      string
	info       Bedrock
	account    string
}

// parseBedrockLong checks the decoded body of an ABSK key:
// "BedrockAPIKey-<id>-at-<account>:<secret>".
func parseBedrockLong(dec []byte) (Bedrock, string, bool) {
	user, secret, ok := strings.Cut(string(dec), ":")
	if !ok || !strings.HasPrefix(user, "BedrockAPIKey-") {
		return Bedrock{}, "", false
	}
	name, account, ok := strings.Cut(user, "-at-")
	if !ok || len(name) == len("BedrockAPIKey-") || len(name) > 64 || !iamName(name) || !digits(account, 12) {
		return Bedrock{}, "", false
	}
	// The credential's secret: random base64, at least 20 characters.
	if len(secret) < 20 || len(secret) > 256 || !isSecretValue([]byte(strings.TrimRight(secret, "="))) || distinct(secret) < 10 {
		return Bedrock{}, "", false
	}
	return Bedrock{LongTerm: true, User: name}, account, true
}

// parseBedrockShort checks the decoded body of a short-term token: a
// presigned CallWithBearerToken URL of the bedrock service, signed by an
// access key.
func parseBedrockShort(dec []byte) (Bedrock, string, bool) {
	host, query, ok := strings.Cut(string(dec), "/?")
	if !ok || !strings.HasPrefix(host, "bedrock") || !strings.HasSuffix(host, ".amazonaws.com") || !isText(dec) {
		return Bedrock{}, "", false
	}
	q, err := url.ParseQuery(query)
	if err != nil || q.Get("Action") != "CallWithBearerToken" || q.Get("X-Amz-Signature") == "" {
		return Bedrock{}, "", false
	}
	// ASIA…/20260101/us-east-1/bedrock/aws4_request
	parts := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(parts) != 5 || !awskey.ValidCredentialID(parts[0]) || !digits(parts[1], 8) || !regionName(parts[2]) || parts[3] != "bedrock" || parts[4] != "aws4_request" {
		return Bedrock{}, "", false
	}
	br := Bedrock{KeyID: parts[0], Region: parts[2]}
	if t, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date")); err == nil {
		if d, err := time.ParseDuration(q.Get("X-Amz-Expires") + "s"); err == nil && d > 0 {
			br.Expires = t.Add(d)
		}
	}
	account, _ := awskey.AccountID(parts[0])
	return br, account, true
}

// regionName reports whether s is shaped like a region name
// (us-east-1, us-gov-west-1): lower-case letters, digits and dashes.
func regionName(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// iamName reports whether s uses only the characters of IAM user names.
func iamName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("+=,.@_-", rune(c)) {
			return false
		}
	}
	return true
}

// digits reports whether s is exactly n ASCII digits.
func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// bedrockMatches turns the Bedrock keys found into matches.
func (s *scan) bedrockMatches() []Match {
	out := make([]Match, 0, len(s.bedrock))
	for _, h := range s.bedrock {
		info := h.info
		m := Match{Kind: KindBedrock, Secret: h.value, Account: h.account, Bedrock: &info}
		m.SecretSpan = s.span(h.start, h.end)
		m.Example = h.account == "123456789012" || strings.Contains(strings.ToUpper(info.User), "EXAMPLE") ||
			info.KeyID != "" && (awskey.IsExampleID(info.KeyID) || isPlaceholderID(info.KeyID))
		m.Allowed = s.allowed(m.SecretSpan)
		out = append(out, m)
	}
	return out
}

// minBedrockRun is the shortest base64 run looked at as a Bedrock key:
// "ABSK" and the base64 of "BedrockAPIKey-x-at-<account>:" and a secret
// of 20 characters.
const minBedrockRun = 4 + 64

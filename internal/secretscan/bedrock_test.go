package secretscan

import (
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
)

// bedrockKeys are generated Bedrock API keys of both shapes
// (https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html),
// random in value, never copied.
type bedrockKeys struct {
	Long, Short, ShortID string
}

func newBedrockKeys(t testing.TB, seed uint64) bedrockKeys {
	t.Helper()
	r := rand.NewChaCha8([32]byte{byte(seed), 7})
	secret, err := awskey.NewSecret(r)
	if err != nil {
		t.Fatal(err)
	}
	id, err := awskey.NewID("ASIA", 210987654321, r)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 44)
	_, _ = r.Read(raw)
	long := "ABSK" + base64.StdEncoding.EncodeToString([]byte("BedrockAPIKey-q7x2-at-210987654321:"+base64.StdEncoding.EncodeToString(raw)))
	tok := make([]byte, 300)
	_, _ = r.Read(tok)
	q := url.Values{
		"Action":               {"CallWithBearerToken"},
		"X-Amz-Algorithm":      {"AWS4-HMAC-SHA256"},
		"X-Amz-Credential":     {id + "/20261203/eu-west-1/bedrock/aws4_request"},
		"X-Amz-Date":           {"20261203T101500Z"},
		"X-Amz-Expires":        {"43200"},
		"X-Amz-Security-Token": {"IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(tok)},
		"X-Amz-SignedHeaders":  {"host"},
		"X-Amz-Signature":      {strings.Repeat("0a1b2c3d", 8)},
	}
	short := "bedrock-api-key-" + base64.StdEncoding.EncodeToString([]byte("bedrock.amazonaws.com/?"+q.Encode()+"&Version=1"))
	_ = secret
	return bedrockKeys{Long: long, Short: short, ShortID: id}
}

// bedrockSummary renders Bedrock matches: "long", "short:<key id>".
func bedrockSummary(k bedrockKeys, ms []Match) string {
	var out []string
	for _, m := range ms {
		switch {
		case m.Kind != KindBedrock:
			out = append(out, m.Kind.String())
		case m.Bedrock.LongTerm && m.Secret == strings.TrimRight(k.Long, "="):
			out = append(out, "long(unpadded):"+m.Account+":"+m.Bedrock.User)
		case m.Bedrock.LongTerm && m.Secret == k.Long:
			out = append(out, "long:"+m.Account+":"+m.Bedrock.User)
		case !m.Bedrock.LongTerm && m.Secret == k.Short && m.Bedrock.KeyID == k.ShortID:
			out = append(out, "short:"+m.Account+":"+m.Bedrock.Region+":"+m.Bedrock.Expires.Format("2006-01-02T15:04"))
		default:
			out = append(out, "bedrock?"+m.Secret)
		}
	}
	return strings.Join(out, " ")
}

func TestDetectBedrock(t *testing.T) {
	k := newBedrockKeys(t, 1)
	// A base64 body that is not a Bedrock key's, behind the prefixes.
	other := base64.StdEncoding.EncodeToString([]byte("SomethingElse-q7x2-at-210987654321:" + strings.Repeat("abcdEFGH0123", 5)))
	notURL := base64.StdEncoding.EncodeToString([]byte("example.com/?Action=CallWithBearerToken&X-Amz-Credential=" + k.ShortID + "%2F20261203%2Feu-west-1%2Fbedrock%2Faws4_request&X-Amz-Signature=00"))
	// A token whose credential scope names a "region" with a terminal
	// escape in it.
	dec, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(k.Short, "bedrock-api-key-"))
	badRegion := base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(dec), "%2Feu-west-1%2F", "%2Feu%1B%5B31m%2F", 1)))
	long := "long:210987654321:BedrockAPIKey-q7x2"
	short := "short:210987654321:eu-west-1:2026-12-03T22:15"
	tests := []struct{ name, in, want string }{
		{"long-term in env", "AWS_BEARER_TOKEN_BEDROCK=" + k.Long + "\n", long},
		{"long-term in code", "client = Client(api_key=\"" + k.Long + "\")\n", long},
		{"long-term without padding", "key: " + strings.TrimRight(k.Long, "=") + "\n", "long(unpadded):210987654321:BedrockAPIKey-q7x2"},
		{"short-term in env", "export AWS_BEARER_TOKEN_BEDROCK=" + k.Short + "\n", short},
		{"short-term in a header", "curl -H 'Authorization: Bearer " + k.Short + "' https://bedrock-runtime.eu-west-1.amazonaws.com/\n", short},
		{"both", "a=" + k.Long + "\nb=" + k.Short + "\n", long + " " + short},
		// Near misses.
		{"ABSK and other base64", "key=ABSK" + other + "\n", ""},
		{"ABSK inside a word", "key=xABSK" + k.Long[4:] + "\n", ""},
		{"long-term cut short", "key=" + k.Long[:60] + "\n", ""},
		{"long-term with a bad account", "key=ABSK" + base64.StdEncoding.EncodeToString([]byte("BedrockAPIKey-q7x2-at-2109876543:abcdEFGH0123ijklMNOP4567qrst")) + "\n", ""},
		{"short-term prefix, other host", "t=bedrock-api-key-" + notURL + "\n", ""},
		{"short-term prefix, other base64", "t=bedrock-api-key-" + other + "\n", ""},
		{"short-term, a region that is not one", "t=bedrock-api-key-" + badRegion + "\n", ""},
		{"documentation placeholder", "AWS_BEARER_TOKEN_BEDROCK=ABSKQmVkcm9ja0FQSUtleS0...\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bedrockSummary(k, New(Options{}).Find([]byte(tt.in))); got != tt.want {
				t.Errorf("Find(%q)\n got: %s\nwant: %s", tt.in, got, tt.want)
			}
		})
	}
}

// A Bedrock key is reported whole, redacted, at the severity of what it
// gives: long-term critical, short-term high; one in an AWS example
// account is an example.
func TestBedrockFinding(t *testing.T) {
	k := newBedrockKeys(t, 2)
	for _, tt := range []struct {
		name, in string
		sev      report.Severity
		msg      string
	}{
		{"long", "k=" + k.Long + "\n", report.SeverityCritical, "A long-term Amazon Bedrock API key of account 210987654321 (IAM user BedrockAPIKey-q7x2)."},
		{"short", "k=" + k.Short + "\n", report.SeverityHigh, "A short-term Amazon Bedrock API key of account 210987654321, signed by " + awskey.Redact(k.ShortID) + " in eu-west-1, valid until 2026-12-03T22:15:00Z."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := New(Options{}).Find([]byte(tt.in))
			if len(ms) != 1 {
				t.Fatalf("%d matches", len(ms))
			}
			f := ToFinding(ms[0], Origin{Path: "f"}, FindingOptions{})
			if f.RuleID != RuleBedrock || f.Severity != tt.sev || f.Message != tt.msg {
				t.Errorf("got %s %s %q", f.RuleID, f.Severity, f.Message)
			}
			if strings.Contains(f.Evidence, ms[0].Secret[20:40]) || len(f.Evidence) > 40 {
				t.Errorf("evidence not redacted: %q", f.Evidence)
			}
			if f.Location.Line != 1 || f.Location.Column != 3 {
				t.Errorf("location %d:%d", f.Location.Line, f.Location.Column)
			}
			if shown := ToFinding(ms[0], Origin{Path: "f"}, FindingOptions{ShowSecrets: true}); shown.Evidence != ms[0].Secret {
				t.Errorf("--show-secrets evidence %q", shown.Evidence)
			}
		})
	}
	ex := "ABSK" + base64.StdEncoding.EncodeToString([]byte("BedrockAPIKey-abcd-at-123456789012:"+awskey.ExampleSecret))
	ms := New(Options{}).Find([]byte("k=" + ex))
	if len(ms) != 1 || !ms[0].Example {
		t.Errorf("key of the example account: %+v", ms)
	}
}

func FuzzParseBedrock(f *testing.F) {
	k := newBedrockKeys(f, 3)
	f.Add([]byte(k.Long))
	f.Add([]byte(k.Short))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseBedrockLong(data)
		parseBedrockShort(data)
		New(Options{}).Find(data)
	})
}

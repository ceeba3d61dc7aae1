package secretscan

import (
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/awskey"
)

// testKeys are generated, never copied: valid in format, random in value.
type testKeys struct {
	ID, ASIA, ABIA, ACCA, Secret, Secret2, ID2, Token string
}

func newTestKeys(t testing.TB, seed uint64) testKeys {
	t.Helper()
	r := rand.NewChaCha8([32]byte{byte(seed), 1, 2, 3})
	must := func(s string, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	k := testKeys{
		ID:      must(awskey.NewID("AKIA", 123456789012, r)),
		ID2:     must(awskey.NewID("AKIA", 210987654321, r)),
		ASIA:    must(awskey.NewID("ASIA", 123456789012, r)),
		ABIA:    must(awskey.NewID("ABIA", 123456789012, r)),
		ACCA:    must(awskey.NewID("ACCA", 123456789012, r)),
		Secret:  must(awskey.NewSecret(r)),
		Secret2: must(awskey.NewSecret(r)),
	}
	// A session token: base64 of random bytes, the length STS issues.
	raw := make([]byte, 300)
	_, _ = r.Read(raw)
	k.Token = "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(raw)
	return k
}

func (k testKeys) fill(tmpl string) string {
	return strings.NewReplacer(
		"{ID}", k.ID, "{ID2}", k.ID2, "{ASIA}", k.ASIA, "{ABIA}", k.ABIA, "{ACCA}", k.ACCA,
		"{SECRET}", k.Secret, "{SECRET2}", k.Secret2, "{TOKEN}", k.Token,
		"{SECRET_URL}", strings.NewReplacer("/", "%2F", "+", "%2B").Replace(k.Secret),
		"{SECRET_JSON}", strings.ReplaceAll(k.Secret, "/", `\/`),
	).Replace(tmpl)
}

// summary renders matches compactly: "pair:AKIA@2" per match.
func summary(k testKeys, ms []Match) string {
	var parts []string
	for _, m := range ms {
		s := m.Kind.String()
		switch {
		case m.KeyID == k.ID:
			s += ":ID"
		case m.KeyID == k.ID2:
			s += ":ID2"
		case m.KeyID == k.ASIA:
			s += ":ASIA"
		case m.KeyID == k.ABIA:
			s += ":ABIA"
		case m.KeyID == k.ACCA:
			s += ":ACCA"
		case m.KeyID != "":
			s += ":" + m.KeyID
		}
		switch {
		case m.Secret == "":
		case m.Secret == k.Secret:
			s += "+SECRET"
		case m.Secret == k.Secret2:
			s += "+SECRET2"
		default:
			s += "+?" + m.Secret
		}
		if m.Token != "" {
			if m.Token == k.Token {
				s += "+TOKEN"
			} else {
				s += "+?TOKEN"
			}
		}
		if m.Example {
			s += "(example)"
		}
		if m.Allowed {
			s += "(allowed)"
		}
		if m.OwnKey {
			s += "(own)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestDetectSyntaxes(t *testing.T) {
	k := newTestKeys(t, 1)
	tests := []struct {
		name, in, want string
	}{
		{"credentials INI", "[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n", "pair:ID+SECRET"},
		{"credentials INI two profiles", "[a]\naws_access_key_id={ID}\naws_secret_access_key={SECRET}\n[b]\naws_access_key_id={ID2}\naws_secret_access_key={SECRET2}\n", "pair:ID+SECRET pair:ID2+SECRET2"},
		{"credentials INI with session token", "[tmp]\naws_access_key_id = {ASIA}\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n", "pair:ASIA+SECRET+TOKEN"},
		{"dotenv", "AWS_ACCESS_KEY_ID={ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n", "pair:ID+SECRET"},
		{"dotenv quoted", "AWS_ACCESS_KEY_ID=\"{ID}\"\nAWS_SECRET_ACCESS_KEY='{SECRET}'\n", "pair:ID+SECRET"},
		{"shell export", "#!/bin/sh\nexport AWS_ACCESS_KEY_ID={ID}\nexport AWS_SECRET_ACCESS_KEY=\"{SECRET}\"\naws s3 ls\n", "pair:ID+SECRET"},
		{"JSON", "{\n  \"AccessKeyId\": \"{ID}\",\n  \"SecretAccessKey\": \"{SECRET}\"\n}\n", "pair:ID+SECRET"},
		{"JSON one line", `{"AccessKeyId":"{ID}","SecretAccessKey":"{SECRET}"}`, "pair:ID+SECRET"},
		{"JSON escaped slashes", `{"AccessKeyId":"{ID}","SecretAccessKey":"{SECRET_JSON}"}`, "pair:ID+SECRET"},
		{"STS JSON with token", "{\"Credentials\": {\n \"AccessKeyId\": \"{ASIA}\",\n \"SecretAccessKey\": \"{SECRET}\",\n \"SessionToken\": \"{TOKEN}\",\n \"Expiration\": \"2026-01-01T00:00:00Z\"}}", "pair:ASIA+SECRET+TOKEN"},
		{"YAML", "aws:\n  access_key_id: {ID}\n  secret_access_key: {SECRET}\n", "pair:ID+SECRET"},
		{"YAML far apart", "aws:\n  access_key_id: {ID}\n  a: 1\n  b: 2\n  c: 3\n  d: 4\n  e: 5\n  f: 6\n  g: 7\n  h: 8\n  secret_access_key: {SECRET}\n", "pair:ID+SECRET"},
		{"HCL terraform provider", "provider \"aws\" {\n  region     = \"us-east-1\"\n  access_key = \"{ID}\"\n  secret_key = \"{SECRET}\"\n}\n", "pair:ID+SECRET"},
		{"Java properties", "aws.accessKeyId={ID}\naws.secretKey={SECRET}\n", "pair:ID+SECRET"},
		{"Go literal", "creds := credentials.NewStaticCredentialsProvider(\"{ID}\", \"{SECRET}\", \"\")\n", "pair:ID+SECRET"},
		{"Python kwargs", "s3 = boto3.client('s3',\n    aws_access_key_id='{ID}',\n    aws_secret_access_key='{SECRET}')\n", "pair:ID+SECRET"},
		{"URL query", "https://example.com/cb?access_key={ID}&secret_key={SECRET_URL}&x=1\n", "pair:ID+SECRET"},
		{"Dockerfile ENV", "FROM alpine\nENV AWS_ACCESS_KEY_ID {ID}\nENV AWS_SECRET_ACCESS_KEY {SECRET}\n", "pair:ID+SECRET"},
		{"docker run", "docker run -e AWS_ACCESS_KEY_ID={ID} -e AWS_SECRET_ACCESS_KEY={SECRET} img\n", "pair:ID+SECRET"},
		{"compose env", "services:\n  app:\n    environment:\n      - AWS_ACCESS_KEY_ID={ID}\n      - AWS_SECRET_ACCESS_KEY={SECRET}\n", "pair:ID+SECRET"},
		{"kubernetes env", "env:\n  - name: AWS_ACCESS_KEY_ID\n    value: {ID}\n  - name: AWS_SECRET_ACCESS_KEY\n    value: \"{SECRET}\"\n", "pair:ID+SECRET"},
		{"ECS JSON env", "[{\"name\": \"AWS_ACCESS_KEY_ID\", \"value\": \"{ID}\"},\n {\"name\": \"AWS_SECRET_ACCESS_KEY\", \"value\": \"{SECRET}\"}]", "pair:ID+SECRET"},
		{"STS XML response", "<Credentials>\n  <AccessKeyId>{ASIA}</AccessKeyId>\n  <SecretAccessKey>{SECRET}</SecretAccessKey>\n  <SessionToken>{TOKEN}</SessionToken>\n</Credentials>\n", "pair:ASIA+SECRET+TOKEN"},
		{"IAM console CSV", "User name,Password,Access key ID,Secret access key,Console login link\nbob,,{ID},{SECRET},https://123456789012.signin.aws.amazon.com/console\n", "pair:ID+SECRET"},
		{"Go struct literal", "cfg := aws.Credentials{AccessKeyID: \"{ID}\", SecretAccessKey: \"{SECRET}\"}\n", "pair:ID+SECRET"},
		{"PowerShell", "$Env:AWS_ACCESS_KEY_ID=\"{ID}\"\n$Env:AWS_SECRET_ACCESS_KEY=\"{SECRET}\"\n", "pair:ID+SECRET"},
		{"PHP array", "'credentials' => [\n    'key'    => '{ID}',\n    'secret' => '{SECRET}',\n],\n", "pair:ID+SECRET"},
		// Several credentials in one file: each ID with its own secret,
		// never a neighbour's.
		{"dotenv IDs then secrets", "AWS_ACCESS_KEY_ID={ID}\nAWS_ACCESS_KEY_ID_PROD={ID2}\nAWS_SECRET_ACCESS_KEY={SECRET}\nAWS_SECRET_ACCESS_KEY_PROD={SECRET2}\n", "pair:ID+SECRET pair:ID2+SECRET2"},
		{"kubernetes env two keys", "env:\n  - name: AWS_ACCESS_KEY_ID\n    value: {ID}\n  - name: BACKUP_AWS_ACCESS_KEY_ID\n    value: {ID2}\n  - name: AWS_SECRET_ACCESS_KEY\n    value: {SECRET}\n  - name: BACKUP_AWS_SECRET_ACCESS_KEY\n    value: {SECRET2}\n", "pair:ID+SECRET pair:ID2+SECRET2"},
		{"JSON two objects far apart", "{\n  \"staging\": {\n    \"accessKeyId\": \"{ID}\",\n    \"a\": 1,\n    \"b\": 2,\n    \"c\": 3,\n    \"d\": 4,\n    \"e\": 5,\n    \"f\": 6,\n    \"secretAccessKey\": \"{SECRET}\"\n  },\n  \"prod\": {\n    \"accessKeyId\": \"{ID2}\",\n    \"a\": 1,\n    \"b\": 2,\n    \"c\": 3,\n    \"d\": 4,\n    \"e\": 5,\n    \"f\": 6,\n    \"secretAccessKey\": \"{SECRET2}\"\n  }\n}\n", "pair:ID+SECRET pair:ID2+SECRET2"},
		{"YAML two blocks, reversed order", "staging:\n  secret_access_key: {SECRET}\n  access_key_id: {ID}\nprod:\n  secret_access_key: {SECRET2}\n  access_key_id: {ID2}\n", "pair:ID+SECRET pair:ID2+SECRET2"},
		{"INI profile without secret, next without ID", "[a]\naws_access_key_id = {ID}\n[b]\naws_secret_access_key = {SECRET}\n", "key-id:ID secret+SECRET"},
		{"YAML ID in one block, secret in the next", "staging:\n  access_key_id: {ID}\nprod:\n  secret_access_key: {SECRET}\n", "key-id:ID secret+SECRET"},
		{"INI commented-out pair", "[default]\n# aws_access_key_id = {ID}\n# aws_secret_access_key = {SECRET}\n", "pair:ID+SECRET"},
		{"Python kwarg on continuation line", "s3 = boto3.client('s3',\n    aws_access_key_id='{ID}',\n    aws_secret_access_key=(\n        '{SECRET}'),\n)\n", "pair:ID+SECRET"},
		{"minified JSON two pairs", `[{"AccessKeyId":"{ID}","SecretAccessKey":"{SECRET}"},{"AccessKeyId":"{ID2}","SecretAccessKey":"{SECRET2}"}]`, "pair:ID+SECRET pair:ID2+SECRET2"},
		{"minified JSON two pairs, secret first", `[{"SecretAccessKey":"{SECRET}","AccessKeyId":"{ID}"},{"SecretAccessKey":"{SECRET2}","AccessKeyId":"{ID2}"}]`, "pair:ID+SECRET pair:ID2+SECRET2"},
		{"ECS JSON env one line", `[{"name":"AWS_ACCESS_KEY_ID","value":"{ID}"},{"name":"AWS_SECRET_ACCESS_KEY","value":"{SECRET}"}]`, "pair:ID+SECRET"},
		{"YAML one pair 10 KiB apart", "prod:\n  aws:\n    access_key_id: {ID}\n" + strings.Repeat("    note: lorem ipsum dolor sit amet\n", 300) + "    secret_access_key: {SECRET}\n", "pair:ID+SECRET"},
		{"lone key ID", "the key {ID} was used\n", "key-id:ID"},
		{"lone ASIA", "AccessKeyId: {ASIA}\n", "key-id:ASIA"},
		{"ABIA and ACCA", "{ABIA}\n{ACCA}\n", "key-id:ABIA key-id:ACCA"},
		{"lone secret with AWS name", "AWS_SECRET_ACCESS_KEY={SECRET}\n", "secret+SECRET"},
		{"lone secret, generic name, AWS section", "[aws]\nsecret_key = {SECRET}\n", "secret+SECRET"},
		{"lone secret, generic name, no AWS", "[github]\nclient_secret = {SECRET}\n", ""},
		{"lone session token", "export AWS_SESSION_TOKEN={TOKEN}\n", "session-token+TOKEN"},
		{"random 40 chars without ID or name", "data = \"{SECRET}\"\n", ""},
		{"key ID and random 40 chars nearby", "id: {ID}\nvalue: {SECRET}\n", "pair:ID+SECRET"},
		{"AWS doc example", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "pair:AKIAIOSFODNN7EXAMPLE+?wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY(example)"},
		{"placeholder ID", "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX\n", "key-id:AKIAXXXXXXXXXXXXXXXX(example)"},
		{"allow comment", "AWS_ACCESS_KEY_ID={ID} # keywarden:allow\n", "key-id:ID(allowed)"},
		{"allow on secret line", "id={ID}\naws_secret_access_key={SECRET} // keywarden:allow\n", "pair:ID+SECRET(allowed)"},
		{"CRLF", "[default]\r\naws_access_key_id = {ID}\r\naws_secret_access_key = {SECRET}\r\n", "pair:ID+SECRET"},
		{"SigV4 credential scope", "X-Amz-Credential={ID}/20260101/us-east-1/s3/aws4_request\n", "key-id:ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := k.fill(tt.in)
			got := summary(k, New(Options{}).Find([]byte(in)))
			if got != tt.want {
				t.Errorf("Find(%q)\n got: %s\nwant: %s", in, got, tt.want)
			}
		})
	}
}

// Shapes that are not credentials must not be reported.
func TestDetectFalsePositives(t *testing.T) {
	k := newTestKeys(t, 2)
	r := rand.NewChaCha8([32]byte{9})
	other := func(prefix string) string {
		id, err := awskey.NewID(prefix, 123456789012, r)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	blob := make([]byte, 3000)
	_, _ = r.Read(blob)
	tests := []struct{ name, in string }{
		{"user role group IDs", "UserId: " + other("AIDA") + "\nRoleId: " + other("AROA") + "\nGroupId: " + other("AGPA") + "\n" + other("ANPA") + " " + other("AIPA") + " " + other("APKA")},
		{"sha1 hex near key-like words", "commit 3f786850e387550fdab836ed7e6dc881de23001b\nsecret_hash = 3f786850e387550fdab836ed7e6dc881de23001b\n"},
		{"sha256 hex", "aws_secret_access_key_sha = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"},
		{"base64 blob", "data: " + base64.StdEncoding.EncodeToString(blob) + "\n"},
		{"base64 blob after secret name", "secret: " + base64.StdEncoding.EncodeToString(blob[:60]) + "\n"},
		{"UUIDs", "aws_secret = 123e4567-e89b-12d3-a456-426614174000\nid: 9b2f0c6e-6f4a-4c7b-8d2e-5f3a1b0c9d8e\n"},
		{"ID inside a longer word", "x" + k.ID + " " + k.ID + "Z " + k.ID + "7 +" + k.ID},
		{"ID-like with bad alphabet", "AKIA0123456789018901 AKIAabcdefghijklmnop"},
		{"short ID", "AKIA234567"},
		{"camel identifiers near ID", "// " + k.AIDAish() + "\nfunc TestScanFindsPairsInKubernetesManifes() {}\n"},
		{"Django secret key", "SECRET_KEY = 'django-insecure-x7!k@h2m#9z$w4p&q8r(t6v)y3b*n5c'\n"},
		{"mototest secret", "aws_secret_access_key = mototestmototestmototestmototestmototest\n"},
		{"path after secret name", "secret_path = /usr/local/share/keywarden/secrets/abcdefg\n"},
		{"token not session", "github_token = " + base64.StdEncoding.EncodeToString(blob[:120]) + "\n"},
		{"session token too short", "aws_session_token = abc123\n"},
		{"JWT as session token", "\"SessionToken\": \"eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(blob[:200]) + ".c2ln\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ms := New(Options{}).Find([]byte(tt.in)); len(ms) != 0 {
				t.Errorf("Find(%q) = %s, want nothing", tt.in, summary(k, ms))
			}
		})
	}
}

// AIDAish returns a user ID built from the same random bits as ID: the same
// shape with a prefix that is not a credential.
func (k testKeys) AIDAish() string { return "AIDA" + k.ID[4:] }

func TestDetectPositions(t *testing.T) {
	k := newTestKeys(t, 3)
	in := k.fill("line one\n  aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	ms := New(Options{}).Find([]byte(in))
	if len(ms) != 1 {
		t.Fatalf("got %d matches", len(ms))
	}
	m := ms[0]
	if m.IDSpan.Line != 2 || m.IDSpan.Col != 23 || m.SecretSpan.Line != 3 || m.SecretSpan.Col != 25 {
		t.Errorf("spans: id %+v secret %+v", m.IDSpan, m.SecretSpan)
	}
	if in[m.IDSpan.Start:m.IDSpan.End] != k.ID || in[m.SecretSpan.Start:m.SecretSpan.End] != k.Secret {
		t.Errorf("offsets do not cover the values")
	}
	if m.Account != "123456789012" {
		t.Errorf("account = %q", m.Account)
	}
}

func TestDetectOwnKeys(t *testing.T) {
	k := newTestKeys(t, 4)
	d := New(Options{OwnKeyIDs: []string{k.ID}})
	tests := []struct{ name, in, want string }{
		{"clear", "id {ID}\n", "key-id:ID(own)"},
		{"embedded", "prefix{ID}suffix\n", "key-id:ID(own)"},
		{"lowercase", strings.ToLower(k.ID) + "\n", "key-id:ID(own)"},
		{"base64 0", base64.StdEncoding.EncodeToString([]byte("key="+k.ID+";")) + "\n", "key-id:ID(own)"},
		{"base64 1", base64.StdEncoding.EncodeToString([]byte("k="+k.ID+";")) + "\n", "key-id:ID(own)"},
		{"base64 2", base64.StdEncoding.EncodeToString([]byte("id:"+k.ID)) + "\n", "key-id:ID(own)"},
		{"hex", "0x" + hex.EncodeToString([]byte(k.ID)) + "\n", "key-id:ID(own)"},
		{"base64url", base64.URLEncoding.EncodeToString([]byte("~~"+k.ID)) + "\n", "key-id:ID(own)"},
		{"other key embedded is not reported", "x{ID2}y\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(k, d.Find([]byte(k.fill(tt.in))))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzDetect(f *testing.F) {
	k := newTestKeys(f, 5)
	for _, s := range []string{
		"[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n",
		"export AWS_SESSION_TOKEN={TOKEN}\n",
		"?a={ID}&secret={SECRET_URL}",
		"AWS_SECRET_ACCESS_KEY={SECRET}",
		"- name: AWS_SECRET_ACCESS_KEY\n  value: {SECRET}",
		"AKIA", "secret", "session_token=", "%2", "\\",
		"a:\n  id: {ID}\n  -x\n\t\n[s]\n  - secret_key: {SECRET}\n}\n",
		`[{"AccessKeyId":"{ID}"},{"SecretAccessKey":"{SECRET}","AccessKeyId":"{ID2}"}]`,
	} {
		f.Add([]byte(k.fill(s)))
	}
	// Base64-encoded values (base64.go).
	f.Add([]byte("data:\n  id: " + b64(k.ID) + "\n  key: " + b64(k.Secret) + "\n"))
	f.Add([]byte("env: " + b64(k.fill("AWS_ACCESS_KEY_ID={ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")) + "\n"))
	f.Add([]byte("x: " + b64(b64(k.fill("AWS_ACCESS_KEY_ID={ID}\n"))) + "\n"))
	d := New(Options{OwnKeyIDs: []string{k.ID}})
	f.Fuzz(func(t *testing.T, data []byte) {
		paired := map[int]bool{} // pairing is one to one
		for _, m := range d.Find(data) {
			if m.Kind == KindPair {
				if paired[m.SecretSpan.Start] {
					t.Fatalf("secret at %d paired twice", m.SecretSpan.Start)
				}
				paired[m.SecretSpan.Start] = true
			}
			for _, sp := range []Span{m.IDSpan, m.SecretSpan, m.TokenSpan} {
				if sp.Start < 0 || sp.End > len(data) || sp.Start > sp.End {
					t.Fatalf("span %+v out of range (len %d)", sp, len(data))
				}
			}
			if m.KeyID != "" && (m.Encoding == "" || m.Encoding == "embedded") && string(data[m.IDSpan.Start:m.IDSpan.End]) != m.KeyID {
				t.Fatalf("ID span does not hold the ID")
			}
			if m.Secret != "" && len(m.Secret) != awskey.SecretLength {
				t.Fatalf("secret of length %d", len(m.Secret))
			}
			if m.Kind == KindKeyID && !awskey.ValidCredentialID(m.KeyID) {
				t.Fatalf("reported %q as a key ID", m.KeyID)
			}
		}
	})
}

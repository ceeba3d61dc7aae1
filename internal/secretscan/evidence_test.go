package secretscan

import (
	"testing"

	"github.com/keywarden/keywarden/internal/report"
)

// The false alarms of issue 17, each as a near-miss next to the form that
// must still be found.
func TestDetectEvidence(t *testing.T) {
	k := newTestKeys(t, 17)
	alibabaToken := "CAIS" + k.Token[16:] // Alibaba STS tokens start CAIS
	tests := []struct {
		name, in, want string
		weak           bool
	}{
		// Session tokens need AWS context, as secrets do.
		{"Alibaba STS token", "{\n  \"AccessKeyId\": \"STS.NUgYrLnoC37mZZCNnAbez2nNW\",\n  \"SecurityToken\": \"" + alibabaToken + "\"\n}\n", "", false},
		{"AWS session token by name", "AWS_SECURITY_TOKEN=" + alibabaToken + "\n", "session-token+?TOKEN", false},
		{"AWS session token by its prefix", "\"SessionToken\": \"{TOKEN}\"\n", "session-token+TOKEN", false},
		{"session token with aws nearby", "[aws]\nsession_token = " + alibabaToken + "\n", "session-token+?TOKEN", false},
		{"token of a pair needs nothing more", "id={ASIA}\nsecret={SECRET}\nsecurity_token=" + alibabaToken + "\n", "pair:ASIA+SECRET+?TOKEN", false},
		// A malformed key ID next to the secret: an SDK test's fake.
		{"secret next to AKISO fake", "import \"github.com/aws/aws-sdk-go-v2/aws\"\nconst (\n\taccessKey = \"AKISORANDOMAASORANDOM\"\n\tsecretKey = \"{SECRET}\"\n)\n", "", false},
		{"secret next to a well-formed ID pairs", "import \"github.com/aws/aws-sdk-go-v2/aws\"\nconst (\n\taccessKey = \"{ID}\"\n\tsecretKey = \"{SECRET}\"\n)\n", "pair:ID+SECRET", false},
		{"secret with aws in code, no ID", "import \"github.com/aws/aws-sdk-go-v2/aws\"\nconst secretKey = \"{SECRET}\"\n", "secret+SECRET", false},
		// Only a comment says AWS: the value must look random, and then
		// it counts, weakly.
		{"40 letters, comment evidence", "// AWS Secret Access Key\nconst testSecret = \"ThisSequenceIsExactlyTheRightLengthToUse\"\n", "", false},
		{"random, comment evidence", "// AWS Secret Access Key\nconst testSecret = \"{SECRET}\"\n", "secret+SECRET", true},
		{"40 letters, AWS in the name", "aws_secret_access_key = ThisSequenceIsExactlyTheRightLengthToUse\n", "secret+?ThisSequenceIsExactlyTheRightLengthToUse", false},
		{"40 letters, [aws] section", "[aws]\nsecret_key = ThisSequenceIsExactlyTheRightLengthToUse\n", "", false},
		// An API model's documentation (aws-sdk-go's lakeformation
		// docs-2.json): a 40-letter shape name after prose that says
		// "secret key". Camel-case words are a name, not a secret,
		// unless the name they are assigned to says AWS.
		{"camel-case shape name after prose", "\"SecretAccessKeyString\": {\n  \"refs\": {\n    \"GetTemporaryGluePartitionCredentialsResponse$SecretAccessKey\": \"<p>The secret key for the temporary credentials.</p>\",\n    \"GetTemporaryGlueTableCredentialsResponse$SecretAccessKey\": \"<p>The secret key for the temporary credentials.</p>\"\n  }\n}\n", "", false},
		{"camel-case words named secret", "secret = ThisSequenceIsExactlyTheRightLengthToUse\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := k.fill(tt.in)
			ms := New(Options{}).Find([]byte(in))
			got := summary(k, ms)
			if got != tt.want {
				t.Fatalf("Find(%q)\n got: %s\nwant: %s", in, got, tt.want)
			}
			for _, m := range ms {
				if m.WeakEvidence != tt.weak {
					t.Errorf("WeakEvidence = %v, want %v", m.WeakEvidence, tt.weak)
				}
			}
		})
	}
}

func TestFindingSeverityByEvidence(t *testing.T) {
	k := newTestKeys(t, 18)
	tests := []struct {
		name string
		m    Match
		want report.Severity
	}{
		{"lone key ID is low", Match{Kind: KindKeyID, KeyID: k.ID}, report.SeverityLow},
		{"own lone key ID is critical", Match{Kind: KindKeyID, KeyID: k.ID, OwnKey: true}, report.SeverityCritical},
		{"secret named AWS is high", Match{Kind: KindSecret, Secret: k.Secret, Context: "aws_secret_access_key"}, report.SeverityHigh},
		{"secret with comment evidence is medium", Match{Kind: KindSecret, Secret: k.Secret, Context: "testSecret", WeakEvidence: true}, report.SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ToFinding(tt.m, Origin{Path: "f"}, FindingOptions{}).Severity; got != tt.want {
				t.Errorf("severity %v, want %v", got, tt.want)
			}
		})
	}
}

// The other files AWS tooling writes credentials into (issue 17): the
// JSON a credential_process prints, and the CLI's cache of assumed-role
// credentials. The SSO cache holds an SSO access token, not an AWS key:
// nothing to report.
func TestDetectToolingFiles(t *testing.T) {
	k := newTestKeys(t, 19)
	tests := []struct{ name, in, want string }{
		{"credential_process output", `{"Version": 1, "AccessKeyId": "{ASIA}", "SecretAccessKey": "{SECRET}", "SessionToken": "{TOKEN}", "Expiration": "2026-12-03T12:00:00Z"}`, "pair:ASIA+SECRET+TOKEN"},
		{"~/.aws/cli/cache", "{\"Credentials\": {\"AccessKeyId\": \"{ASIA}\", \"SecretAccessKey\": \"{SECRET}\", \"SessionToken\": \"{TOKEN}\", \"Expiration\": \"2026-12-03T12:00:00+00:00\"}, \"AssumedRoleUser\": {\"AssumedRoleId\": \"AROAEXAMPLEROLEID123:botocore-session-1\", \"Arn\": \"arn:aws:sts::123456789012:assumed-role/r/botocore-session-1\"}, \"ResponseMetadata\": {\"RequestId\": \"5f3b3b1e-9f0a-4b8e-9d1c-2a3b4c5d6e7f\"}}", "pair:ASIA+SECRET+TOKEN"},
		{"~/.aws/cli/cache, SSO role credentials", `{"ProviderType": "sso", "Credentials": {"AccessKeyId": "{ASIA}", "SecretAccessKey": "{SECRET}", "SessionToken": "{TOKEN}", "Expiration": "2026-12-03T20:00:00Z"}}`, "pair:ASIA+SECRET+TOKEN"},
		{"~/.aws/sso/cache (near-miss)", `{"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": "aoaAAAAAGZ0example-token-value-that-is-long-enough-to-look-random-0123456789ABCDEF", "expiresAt": "2026-12-03T12:00:00Z"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFind(t, k, tt.in, tt.want) })
	}
}

func TestCamelWords(t *testing.T) {
	for v, want := range map[string]bool{
		"GetTemporaryGlueTableCredentialsResponse": true,
		"ThisSequenceIsExactlyTheRightLengthToUse": true,
		"getTemporaryGlueTableCredentialsResponse": true,
		"TwoWords": false, // fewer than three capitals
		"wJalrXUtnFEMIKKMDENGbPxRfiCYEXAMPLEKEYab": false, // capitals in a row
		"GetTemporaryGlue2TableCredentialsRespons": false, // a digit
		"GetTemporaryGlueTableCredentialsResponsE": false, // ends in a capital
		"GetTemporary/GlueTableCredentialsRespons": false,
	} {
		if got := camelWords(v); got != want {
			t.Errorf("camelWords(%q) = %v, want %v", v, got, want)
		}
	}
}

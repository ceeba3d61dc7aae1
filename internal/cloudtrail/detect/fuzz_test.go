package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// FuzzParseIgnore: a suppression file is user input; it must never panic,
// and what it accepts must apply without panicking.
func FuzzParseIgnore(f *testing.F) {
	f.Add([]byte("ignore:\n  - rule: ct-x\n    key: AKIARTX3GSDS2RWAIZGX\n    address: 203.0.113.0/24\n    expires: 2026-12-31\n"))
	f.Add([]byte("ignore:\n  - address: 2001:db8::1\n    expires: 2026-12-31T10:00:00Z\n"))
	f.Add([]byte("ignore: [{rule: '*'}]"))
	rules := Builtin()
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseIgnore(data)
		if err != nil {
			return
		}
		fs := []*Finding{{Rule: rules[0], Actor: "AKIARTX3GSDS2RWAIZGX", KeyID: "AKIARTX3GSDS2RWAIZGX", Sources: []string{"203.0.113.9", "AWS Internal"}},
			{Rule: rules[1], Actor: "arn:aws:iam::1:user/a", Value: "198.51.100.7"}}
		ApplyIgnore(fs, entries, time.Now())
	})
}

// FuzzGrantsOutside: resource policies come from the logs, written by
// whoever made the call; reading them must never panic, and a policy that
// grants nothing to anyone cannot be judged as granting outside.
func FuzzGrantsOutside(f *testing.F) {
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"s3:GetObject","Resource":"*"}]}`, "123837392027")
	f.Add(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}}`, "1")
	f.Add(`%7B%22Statement%22%3A%5B%5D%7D`, "")
	f.Add(`arn:aws:kms:eu-west-1:123456789012:key/x`, "123456789012")
	f.Fuzz(func(t *testing.T, doc, own string) {
		if grantsOutside(doc, own) && !strings.Contains(strings.ToLower(doc), "allow") && !strings.Contains(doc, "%") {
			t.Errorf("no Allow, yet judged a grant: %q", doc)
		}
		otherAccount(doc, own)
		accountOf(doc)
	})
}

// FuzzFacts: the facts a run learns come from requestParameters and
// resources written by whoever made the calls; learning and judging them
// must never panic, whatever the JSON.
func FuzzFacts(f *testing.F) {
	f.Add(uint8(0), []byte(`{"roleName":"ops","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`), []byte(`[{"ARN":"arn:aws:kms:eu-west-1:1:key/k"}]`))
	f.Add(uint8(3), []byte(`{"keyId":"alias/x","aliasName":"alias/x","targetKeyId":"k"}`), []byte(`[]`))
	f.Add(uint8(5), []byte(`{"iamInstanceProfile":{"arn":"arn:aws:iam::1:instance-profile/p"},"\u0072ole":"arn:aws:iam::1:role/"}`), []byte(`{`))
	names := []string{"AttachRolePolicy", "PutGroupPolicy", "AddRoleToInstanceProfile", "Decrypt", "CreateAlias",
		"RunInstances", "CreateFunction20150331", "ScheduleKeyDeletion", "AddUserToGroup", "PutBucketLifecycle", "CreateTrail"}
	rules := Builtin()
	f.Fuzz(func(t *testing.T, n uint8, params, resources []byte) {
		e, err := New(rules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		w := e.NewWorker()
		for _, name := range names[int(n)%len(names):] {
			w.Observe(&cloudtrail.Record{EventName: name, EventSource: "kms.amazonaws.com", RequestParameters: params, Resources: resources,
				UserIdentity: cloudtrail.UserIdentity{AccessKeyID: "AKIARTX3GSDS2RWAIZGX"}})
		}
		e.Merge(w).Findings(nil)
	})
}

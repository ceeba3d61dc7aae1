package audit_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
)

// genAccount writes a credential report and authorization details for an
// account of n users, in AWS's formats, deterministically. The shape is a
// mid-size company's: 25 groups over 10 customer-managed and 3 AWS-managed
// policies, some groups with a correct MFA guard, some with the Bool
// mistake, some with a network guard, inline policies on a fifth of the
// users, boundaries on a tenth, one or two keys per user.
func genAccount(n int) (report, details []byte) {
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	const acct = "210987654321"
	type st = map[string]any
	doc := func(sts ...st) st { return st{"Version": "2012-10-17", "Statement": sts} }
	self := []string{"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ResyncMFADevice", "iam:ListMFADevices", "iam:ListVirtualMFADevices", "iam:GetUser", "iam:ChangePassword", "sts:GetSessionToken"}
	services := []string{"s3", "ec2", "lambda", "dynamodb", "sqs", "sns", "kms", "ssm", "secretsmanager", "rds", "logs", "cloudwatch", "ecr", "ecs", "iam", "sts"}
	verbs := []string{"Get*", "List*", "Describe*", "Put*", "Create*", "Delete*", "Update*", "*"}

	var policies []st
	managed := func(arn string, d st) {
		policies = append(policies, st{"PolicyName": arn[strings.LastIndex(arn, "/")+1:], "Arn": arn, "Path": "/", "DefaultVersionId": "v2",
			"PolicyVersionList": []st{{"Document": d, "VersionId": "v2", "IsDefaultVersion": true}, {"Document": doc(st{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}), "VersionId": "v1", "IsDefaultVersion": false}}})
	}
	managed("arn:aws:iam::aws:policy/AdministratorAccess", doc(st{"Effect": "Allow", "Action": "*", "Resource": "*"}))
	managed("arn:aws:iam::aws:policy/PowerUserAccess", doc(st{"Effect": "Allow", "NotAction": []string{"iam:*", "organizations:*", "account:*"}, "Resource": "*"},
		st{"Effect": "Allow", "Action": []string{"iam:CreateServiceLinkedRole", "iam:ListRoles", "organizations:DescribeOrganization"}, "Resource": "*"}))
	managed("arn:aws:iam::aws:policy/ReadOnlyAccess", doc(st{"Effect": "Allow", "Action": []string{"s3:Get*", "s3:List*", "ec2:Describe*", "iam:Get*", "iam:List*", "dynamodb:Scan", "dynamodb:Query", "logs:Get*"}, "Resource": "*"}))
	var pool []string
	for i := 0; i < 10; i++ {
		var sts []st
		for j := 0; j < 3+i%3; j++ {
			var acts []string
			for k := 0; k < 4; k++ {
				acts = append(acts, services[rng.IntN(len(services))]+":"+verbs[rng.IntN(len(verbs))])
			}
			s := st{"Sid": fmt.Sprintf("S%d", j), "Effect": "Allow", "Action": acts, "Resource": "*"}
			if j == 2 {
				s["Resource"] = fmt.Sprintf("arn:aws:s3:::bucket-%d/*", i)
			}
			sts = append(sts, s)
		}
		arn := fmt.Sprintf("arn:aws:iam::%s:policy/team-%d", acct, i)
		managed(arn, doc(sts...))
		pool = append(pool, arn)
	}
	aws := []string{"arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"}

	var groups []st
	for g := 0; g < 25; g++ {
		att := []st{{"PolicyName": "p", "PolicyArn": pool[g%10]}}
		if g%5 == 0 {
			att = append(att, st{"PolicyName": "aws", "PolicyArn": aws[(g/5)%3]})
		}
		var inline []st
		switch {
		case g < 10: // the correct guard
			inline = append(inline, st{"PolicyName": "RequireMFA", "PolicyDocument": doc(st{"Sid": "DenyWithoutMFA", "Effect": "Deny", "NotAction": self, "Resource": "*",
				"Condition": st{"BoolIfExists": st{"aws:MultiFactorAuthPresent": "false"}}})})
		case g < 15: // the Bool mistake
			inline = append(inline, st{"PolicyName": "RequireMFA", "PolicyDocument": doc(st{"Sid": "DenyWithoutMFA", "Effect": "Deny", "NotAction": self, "Resource": "*",
				"Condition": st{"Bool": st{"aws:MultiFactorAuthPresent": "false"}}})})
		case g < 20: // a network guard
			inline = append(inline, st{"PolicyName": "Office", "PolicyDocument": doc(st{"Sid": "DenyOutside", "Effect": "Deny", "Action": "*", "Resource": "*",
				"Condition": st{"NotIpAddress": st{"aws:SourceIp": []string{"198.51.100.0/24", "2001:db8::/32"}}, "BoolIfExists": st{"aws:ViaAWSService": "false"}}})})
		}
		groups = append(groups, st{"GroupName": fmt.Sprintf("g%02d", g), "GroupId": fmt.Sprintf("AGPAG%02d", g), "Arn": fmt.Sprintf("arn:aws:iam::%s:group/g%02d", acct, g),
			"GroupPolicyList": inline, "AttachedManagedPolicies": att})
	}

	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var users []st
	var rep bytes.Buffer
	rep.WriteString("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n")
	fmt.Fprintf(&rep, "<root_account>,arn:aws:iam::%s:root,2018-01-01T00:00:00+00:00,not_supported,2026-10-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n", acct)
	ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05+00:00") }
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("user%05d", i)
		arn := fmt.Sprintf("arn:aws:iam::%s:user/%s", acct, name)
		u := st{"UserName": name, "UserId": fmt.Sprintf("AIDA%016d", i), "Arn": arn, "Path": "/", "CreateDate": ts(base.AddDate(0, 0, -400-i%300)),
			"GroupList": []string{fmt.Sprintf("g%02d", i%25), fmt.Sprintf("g%02d", (i*7+3)%25)}, "AttachedManagedPolicies": []st{}}
		if i%5 == 0 {
			d, _ := json.Marshal(doc(st{"Effect": "Allow", "Action": []string{"sts:AssumeRole", "secretsmanager:GetSecretValue"}, "Resource": "*"}))
			u["UserPolicyList"] = []st{{"PolicyName": "own", "PolicyDocument": url.QueryEscape(string(d))}}
		}
		if i%10 == 0 {
			u["PermissionsBoundary"] = st{"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": pool[i%10]}
		}
		users = append(users, u)
		created := base.AddDate(0, 0, -400-i%300)
		k1 := base.AddDate(0, 0, -(i % 200))
		used := "N/A,N/A,N/A"
		if i%4 != 0 {
			used = ts(base.AddDate(0, 0, -(i%70))) + ",us-east-1," + services[i%len(services)]
		}
		key2 := "false,N/A,N/A,N/A,N/A"
		if i%3 == 0 {
			key2 = "true," + ts(base.AddDate(0, 0, -(i%50))) + ",no_information,N/A,N/A"
		}
		fmt.Fprintf(&rep, "%s,%s,%s,%v,N/A,N/A,N/A,%v,true,%s,%s,%s,false,N/A,false,N/A\n", name, arn, ts(created), i%2 == 0, i%3 == 1, ts(k1), used, key2)
	}
	details, _ = json.Marshal(st{"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": []st{}, "Policies": policies})
	return rep.Bytes(), details
}

// offlineAudit is the whole offline path: parse both exports, audit,
// render text.
func offlineAudit(tb testing.TB, rep, det []byte, w io.Writer) *audit.Result {
	a := inventory.New()
	if err := a.ParseAuthorizationDetails("details.json", det); err != nil {
		tb.Fatal(err)
	}
	cr, err := inventory.ParseCredentialReport("report.csv", rep)
	if err != nil {
		tb.Fatal(err)
	}
	a.ApplyCredentialReport("report.csv", cr)
	r := audit.Run(a, audit.Options{Now: now, Exposer: audit.NewEngineExposer()})
	if err := audit.WriteText(w, r, audit.TextOptions{}); err != nil {
		tb.Fatal(err)
	}
	return r
}

// -write-large DIR writes the generated 5,000-user exports to DIR, to time
// the command itself on them:
//
//	go test ./internal/audit -run TestLargeAccount -write-large /tmp/big
//	time keywarden audit --credential-report /tmp/big/credential-report.csv \
//	    --authorization-details /tmp/big/authorization-details.json >/dev/null
var writeLarge = flag.String("write-large", "", "write the generated 5,000-user exports to this directory")

func TestLargeAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	rep, det := genAccount(5000)
	if *writeLarge != "" {
		if err := os.MkdirAll(*writeLarge, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*writeLarge, "credential-report.csv"), rep, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*writeLarge, "authorization-details.json"), det, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	r := offlineAudit(t, rep, det, io.Discard)
	t.Logf("5,000 users: %d keys, %d findings in %v (figures come from BenchmarkOfflineAudit5000)", len(r.Keys), len(r.Findings), time.Since(start))
	if r.Users != 5000 || len(r.Keys) != 5000+5000/3+1 {
		t.Fatalf("users %d keys %d", r.Users, len(r.Keys))
	}
	// Users in a correctly guarded group and no other grant outside it
	// still get a verdict for every active key.
	evaluated := 0
	bool, guarded := 0, 0
	for _, k := range r.Keys {
		if k.Status == "active" && k.User != inventory.RootUserName {
			if k.WithoutMFA == nil {
				t.Fatalf("%s %s not evaluated", k.User, k.Key)
			}
			evaluated++
			if k.Exposure != nil && len(k.Exposure.InertMFAGuards) > 0 {
				bool++
			}
			if *k.WithoutMFA == 0 {
				guarded++
			}
		}
	}
	if bool == 0 || guarded == 0 || evaluated != 5000+5000/3+1 {
		t.Errorf("evaluated %d, with an inert Bool guard %d, with nothing allowed %d", evaluated, bool, guarded)
	}
}

// BenchmarkOfflineAudit5000 is the speed target: an offline audit
// of a 5,000-user account (both exports parsed, every check, text output)
// in under 3 s on a 2-core machine.
func BenchmarkOfflineAudit5000(b *testing.B) {
	rep, det := genAccount(5000)
	b.SetBytes(int64(len(rep) + len(det)))
	b.ResetTimer()
	for b.Loop() {
		offlineAudit(b, rep, det, io.Discard)
	}
}

package iamdata

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		action   string
		found    bool
		wildOnly bool
		name     string
	}{
		{"iam:CreateAccessKey", true, false, "CreateAccessKey"},
		{"IAM:createaccesskey", true, false, "CreateAccessKey"},
		{"iam:ListUsers", true, true, "ListUsers"},
		{"sts:GetCallerIdentity", true, true, "GetCallerIdentity"},
		{"s3:GetObject", true, false, "GetObject"},
		{"s3:ListAllMyBuckets", true, true, "ListAllMyBuckets"},
		{"ec2:DescribeInstances", true, true, "DescribeInstances"},
		{"iam:NoSuchAction", false, false, ""},
		{"nosuchservice:Get", false, false, ""},
		{"iam", false, false, ""},
	}
	for _, tt := range tests {
		a, ok := Lookup(tt.action)
		if ok != tt.found || a.WildcardOnly != tt.wildOnly || a.Name != tt.name {
			t.Errorf("Lookup(%q) = %+v, %v; want name %q found %v wildcardOnly %v", tt.action, a, ok, tt.name, tt.found, tt.wildOnly)
		}
	}
}

func TestCatalogue(t *testing.T) {
	if !ServiceKnown("iam") || !ServiceKnown("S3") || ServiceKnown("nosuch") {
		t.Error("ServiceKnown is wrong for iam, S3 or nosuch")
	}
	if n := len(Services()); n < 300 {
		t.Errorf("only %d services in the catalogue", n)
	}
	if n := len(Actions("iam")); n < 100 {
		t.Errorf("only %d iam actions", n)
	}
	if a, _ := Lookup("iam:CreateVirtualMFADevice"); len(a.ResourceTypes) != 1 || a.ResourceTypes[0] != "mfa" {
		t.Errorf("iam:CreateVirtualMFADevice resource types %v", a.ResourceTypes)
	}
	if !RCPApplies("s3") || !RCPApplies("STS") || RCPApplies("ec2") {
		t.Error("RCPApplies is wrong for s3, STS or ec2")
	}
	if Version() == "" {
		t.Error("no source version")
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		action  string
		kind    ProblemKind // 0: known
		suggest string
	}{
		{"*", 0, ""},
		{"s3:GetObject", 0, ""},
		{"S3:getobject", 0, ""},
		{"s3:Get*", 0, ""},
		{"s3:*", 0, ""},
		{"*:List*", 0, ""},
		{"iam:*MFADevice", 0, ""},
		{"ec2:Describe?nstances", 0, ""},
		{"s3:GetObjectt", UnknownAction, "s3:GetObject"},
		{"ec2:RunInstancez", UnknownAction, "ec2:RunInstances"},
		{"iam:CreateAccesKey", UnknownAction, "iam:CreateAccessKey"},
		{"s3:Frobnicate", UnknownAction, ""},
		{"s3:Gett*", UnknownAction, ""},
		{"*:Frobnicate*", UnknownAction, ""},
		{"s3:[a]*", UnknownAction, ""},
		{"ec22:RunInstances", UnknownService, "ec2"},
		{"nosuchservice:Do", UnknownService, ""},
		{"GetObject", NotAnAction, ""},
		{"s3:", NotAnAction, ""},
		{":GetObject", NotAnAction, ""},
		{"s3:Get:Object", NotAnAction, ""},
	}
	for _, tt := range tests {
		p, bad := Check(tt.action)
		if bad != (tt.kind != 0) || p.Kind != tt.kind || p.Suggestion != tt.suggest {
			t.Errorf("Check(%q) = %+v, %v; want kind %d suggestion %q", tt.action, p, bad, tt.kind, tt.suggest)
		}
		if bad && (p.Action != tt.action || !strings.Contains(p.String(), tt.action)) {
			t.Errorf("Check(%q): %q does not name the action", tt.action, p.String())
		}
		if tt.suggest != "" && !strings.Contains(p.String(), "did you mean "+tt.suggest+"?") {
			t.Errorf("Check(%q): %q", tt.action, p.String())
		}
	}
}

func TestAccessLevels(t *testing.T) {
	tests := []struct {
		action string
		level  AccessLevel
	}{
		{"iam:PutGroupPolicy", PermissionsManagement},
		{"iam:UpdateAssumeRolePolicy", PermissionsManagement},
		{"s3:PutBucketPolicy", PermissionsManagement},
		{"iam:CreateAccessKey", Write},
		{"iam:TagUser", Tagging},
		{"iam:GetUser", Read},
		{"iam:ListUsers", List},
	}
	for _, tt := range tests {
		if a, ok := Lookup(tt.action); !ok || a.AccessLevel != tt.level {
			t.Errorf("Lookup(%q).AccessLevel = %q (found %v), want %q", tt.action, a.AccessLevel, ok, tt.level)
		}
	}
	// Every action of the catalogue has a level: the generator refuses
	// a level it does not know.
	for _, svc := range Services() {
		for _, n := range Actions(svc) {
			if a, _ := Lookup(svc + ":" + n); a.AccessLevel == "" {
				t.Fatalf("%s:%s has no access level", svc, n)
			}
		}
	}
	pm := AtLevel("IAM", PermissionsManagement)
	names := map[string]bool{}
	for _, a := range pm {
		if a.Service != "iam" || a.AccessLevel != PermissionsManagement {
			t.Errorf("AtLevel returned %+v", a)
		}
		names[a.Name] = true
	}
	for _, want := range []string{"AttachGroupPolicy", "AttachRolePolicy", "AttachUserPolicy", "CreatePolicyVersion", "PutGroupPolicy", "PutRolePolicy", "PutUserPolicy", "SetDefaultPolicyVersion", "UpdateAssumeRolePolicy"} {
		if !names[want] {
			t.Errorf("AtLevel(iam, PermissionsManagement) lacks %s (got %d actions)", want, len(pm))
		}
	}
	if names["CreateAccessKey"] || names["GetUser"] {
		t.Error("AtLevel(iam, PermissionsManagement) holds actions of other levels")
	}
}

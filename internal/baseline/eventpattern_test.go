package baseline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// matchPattern is a test helper that follows EventBridge's documented
// matching rules for the operators the baseline uses, and a few more so
// the helper is not shaped to the patterns: a pattern field that is an
// object descends into the event; one that is an array matches when any
// element matches the event's value (or, when the event's value is an
// array, any of its elements). Elements are literal values or the
// operators prefix, suffix, equals-ignore-case, anything-but (a value,
// a list or a prefix) and exists. A field missing from the event matches
// only {"exists": false}.
func matchPattern(pattern, event map[string]any) bool {
	for key, want := range pattern {
		got, present := event[key]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present || !ok || !matchPattern(want, sub) {
				return false
			}
		case []any:
			if !matchField(want, got, present) {
				return false
			}
		default:
			return false // not a valid pattern: EventBridge would refuse it
		}
	}
	return true
}

func matchField(alternatives []any, got any, present bool) bool {
	values := []any{got}
	if arr, ok := got.([]any); ok {
		values = arr
	}
	for _, alt := range alternatives {
		if op, ok := alt.(map[string]any); ok {
			if ex, ok := op["exists"].(bool); ok {
				if ex == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchValue(alt, v) {
				return true
			}
		}
	}
	return false
}

func matchValue(alt, v any) bool {
	op, ok := alt.(map[string]any)
	if !ok {
		return equalScalar(alt, v)
	}
	s, isString := v.(string)
	for name, arg := range op {
		switch name {
		case "prefix":
			p, _ := arg.(string)
			return isString && strings.HasPrefix(s, p)
		case "suffix":
			p, _ := arg.(string)
			return isString && strings.HasSuffix(s, p)
		case "equals-ignore-case":
			p, _ := arg.(string)
			return isString && strings.EqualFold(s, p)
		case "anything-but":
			switch a := arg.(type) {
			case []any:
				for _, e := range a {
					if equalScalar(e, v) {
						return false
					}
				}
				return true
			case map[string]any:
				return !matchValue(a, v)
			default:
				return !equalScalar(a, v)
			}
		}
	}
	return false
}

func equalScalar(a, b any) bool {
	switch a := a.(type) {
	case string:
		s, ok := b.(string)
		return ok && s == a
	case float64:
		f, ok := b.(float64)
		return ok && f == a
	case bool:
		x, ok := b.(bool)
		return ok && x == a
	case nil:
		return b == nil
	}
	return false
}

func TestMatchPatternOperators(t *testing.T) {
	event := map[string]any{
		"source": "aws.iam",
		"detail": map[string]any{
			"eventName": "CreateAccessKey",
			"tags":      []any{"a", "prod"},
			"count":     float64(3),
			"flag":      true,
			"empty":     nil,
		},
	}
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"exact", `{"source":["aws.iam"]}`, true},
		{"exact miss", `{"source":["aws.s3"]}`, false},
		{"nested", `{"detail":{"eventName":["DeleteUser","CreateAccessKey"]}}`, true},
		{"all keys must match", `{"source":["aws.iam"],"detail":{"eventName":["DeleteUser"]}}`, false},
		{"prefix", `{"detail":{"eventName":[{"prefix":"Create"}]}}`, true},
		{"prefix miss", `{"detail":{"eventName":[{"prefix":"Delete"}]}}`, false},
		{"suffix", `{"detail":{"eventName":[{"suffix":"Key"}]}}`, true},
		{"ignore case", `{"source":[{"equals-ignore-case":"AWS.IAM"}]}`, true},
		{"anything-but value", `{"source":[{"anything-but":"aws.s3"}]}`, true},
		{"anything-but list", `{"source":[{"anything-but":["aws.iam","aws.s3"]}]}`, false},
		{"anything-but prefix", `{"source":[{"anything-but":{"prefix":"aws."}}]}`, false},
		{"exists", `{"detail":{"eventName":[{"exists":true}]}}`, true},
		{"exists on missing", `{"detail":{"errorCode":[{"exists":true}]}}`, false},
		{"not exists on missing", `{"detail":{"errorCode":[{"exists":false}]}}`, true},
		{"not exists on present", `{"detail":{"eventName":[{"exists":false}]}}`, false},
		{"missing field never matches a value", `{"detail":{"errorCode":["AccessDenied"]}}`, false},
		{"anything-but on missing field", `{"detail":{"errorCode":[{"anything-but":"x"}]}}`, false},
		{"array event value", `{"detail":{"tags":["prod"]}}`, true},
		{"number", `{"detail":{"count":[3]}}`, true},
		{"string is not a number", `{"detail":{"count":["3"]}}`, false},
		{"bool", `{"detail":{"flag":[true]}}`, true},
		{"null", `{"detail":{"empty":[null]}}`, true},
		{"object pattern on scalar", `{"source":{"x":["y"]}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p map[string]any
			if err := json.Unmarshal([]byte(tt.pattern), &p); err != nil {
				t.Fatal(err)
			}
			if got := matchPattern(p, event); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// asEvent wraps a CloudTrail record as EventBridge delivers it.
func asEvent(rec map[string]any) map[string]any {
	src, _ := rec["eventSource"].(string)
	dt := "AWS API Call via CloudTrail"
	switch rec["eventType"] {
	case "AwsConsoleSignIn":
		dt = "AWS Console Sign In via CloudTrail"
	case "AwsServiceEvent":
		dt = "AWS Service Event via CloudTrail"
	}
	return map[string]any{
		"version": "0", "detail-type": dt, "source": "aws." + strings.TrimSuffix(src, ".amazonaws.com"),
		"region": rec["awsRegion"], "detail": rec,
	}
}

// roundTrip passes a pattern through JSON, as EventBridge receives it.
func roundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

// meantFor states, independently of the patterns, which CloudTrail
// records each alert is for.
var meantFor = map[string]func(r map[string]any) bool{
	"access-key-changes": func(r map[string]any) bool {
		return r["eventSource"] == "iam.amazonaws.com" && slices.Contains([]string{"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"}, str(r, "eventName"))
	},
	"mfa-device-removed": func(r map[string]any) bool {
		return r["eventSource"] == "iam.amazonaws.com" && (str(r, "eventName") == "DeactivateMFADevice" || str(r, "eventName") == "DeleteVirtualMFADevice")
	},
	"login-profile-changes": func(r map[string]any) bool {
		return r["eventSource"] == "iam.amazonaws.com" && strings.HasSuffix(str(r, "eventName"), "LoginProfile") && !strings.HasPrefix(str(r, "eventName"), "Get")
	},
	"admin-policy-attached": func(r map[string]any) bool {
		n := str(r, "eventName")
		return r["eventSource"] == "iam.amazonaws.com" && strings.HasPrefix(n, "Attach") && strings.HasSuffix(n, "Policy") &&
			str(r, "requestParameters", "policyArn") == "arn:aws:iam::aws:policy/AdministratorAccess"
	},
	"quarantine-policy-attached": func(r map[string]any) bool {
		return str(r, "eventName") == "AttachUserPolicy" && strings.Contains(str(r, "requestParameters", "policyArn"), ":policy/AWSCompromisedKeyQuarantine")
	},
	"root-activity": func(r map[string]any) bool {
		return str(r, "userIdentity", "type") == "Root" && (r["eventType"] == "AwsApiCall" || r["eventType"] == "AwsConsoleSignIn")
	},
	"console-signin-without-mfa": func(r map[string]any) bool {
		return str(r, "eventName") == "ConsoleLogin" && str(r, "additionalEventData", "MFAUsed") == "No" && str(r, "responseElements", "ConsoleLogin") == "Success"
	},
	"credentials-exposed": func(map[string]any) bool { return false },
	"trail-changes": func(r map[string]any) bool {
		return r["eventSource"] == "cloudtrail.amazonaws.com" && slices.Contains([]string{"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors"}, str(r, "eventName"))
	},
	"detectors-disabled": func(r map[string]any) bool {
		n := str(r, "eventName")
		switch r["eventSource"] {
		case "guardduty.amazonaws.com":
			return n == "DeleteDetector" || strings.HasPrefix(n, "DisassociateFrom") || n == "StopMonitoringMembers"
		case "config.amazonaws.com":
			return n == "DeleteConfigurationRecorder" || n == "StopConfigurationRecorder" || n == "DeleteDeliveryChannel"
		case "securityhub.amazonaws.com":
			return n == "DisableSecurityHub"
		}
		return false
	},
	"guardduty-credential-findings": func(map[string]any) bool { return false },
}

// sharedRecords reads every CloudTrail record of ../shared/data.
func sharedRecords(t *testing.T) []map[string]any {
	t.Helper()
	root := filepath.Join("..", "..", "..", "shared", "data", "cloudtrail")
	if _, err := os.Stat(root); err != nil {
		t.Skip("../shared/data is absent: skipping the EventBridge patterns over real CloudTrail records")
	}
	var recs []map[string]any
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "LICENSE") || strings.HasSuffix(d.Name(), ".md") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var wrapped struct{ Records []map[string]any }
		if json.Unmarshal(data, &wrapped) == nil && wrapped.Records != nil {
			recs = append(recs, wrapped.Records...)
			return nil
		}
		var bare []map[string]any
		if err := json.Unmarshal(data, &bare); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		recs = append(recs, bare...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestAlertPatternsOnRealRecords: over the real CloudTrail samples, each
// alert's pattern fires on exactly the records it is meant for, and the
// alerts whose events the samples hold fire at least that often.
func TestAlertPatternsOnRealRecords(t *testing.T) {
	recs := sharedRecords(t)
	if len(recs) < 1000 {
		t.Fatalf("only %d records read", len(recs))
	}
	events := make([]map[string]any, len(recs))
	for i, r := range recs {
		events[i] = roundTrip(t, asEvent(r))
	}
	atLeast := map[string]int{"access-key-changes": 6, "login-profile-changes": 10, "trail-changes": 11,
		"console-signin-without-mfa": 1, "admin-policy-attached": 1}
	for _, a := range Alerts() {
		t.Run(a.ID, func(t *testing.T) {
			want, ok := meantFor[a.ID]
			if !ok {
				t.Fatalf("no statement of what %s is meant for", a.ID)
			}
			pattern := roundTrip(t, a.Pattern)
			fired := 0
			for i, r := range recs {
				got := matchPattern(pattern, events[i])
				if got != want(r) {
					t.Errorf("pattern fired = %v on %s %s by %s", got, str(r, "eventSource"), str(r, "eventName"), str(r, "userIdentity", "type"))
				}
				if got {
					fired++
				}
			}
			if fired < atLeast[a.ID] {
				t.Errorf("fired on %d records, want at least %d", fired, atLeast[a.ID])
			}
		})
	}
}

// TestAlertPatternsOnServiceEvents: events that are not CloudTrail
// records (GuardDuty findings, AWS Health), and records the samples lack,
// each with the alerts it must fire.
func TestAlertPatternsOnServiceEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no event fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev map[string]any
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range ev["want"].([]any) {
				want = append(want, w.(string))
			}
			delete(ev, "want")
			var got []string
			for _, a := range Alerts() {
				if matchPattern(roundTrip(t, a.Pattern), ev) {
					got = append(got, a.ID)
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("alerts fired %v, want %v", got, want)
			}
		})
	}
}

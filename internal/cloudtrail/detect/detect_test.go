package detect

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/report"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// run evaluates every built-in rule over the inputs and returns the
// findings, failing the test on any input error.
func run(t testing.TB, prior map[string]*Baseline, paths ...string) []*Finding {
	t.Helper()
	res := observe(t, paths...)
	fs := res.Findings(prior)
	// Every finding lists each triggering event once.
	for _, f := range fs {
		seen := map[string]bool{}
		for _, id := range f.EventIDs {
			if seen[id] {
				t.Errorf("%s on %s lists event %s twice: %v", f.Rule.ID, f.Key(), id, f.EventIDs)
			}
			seen[id] = true
		}
	}
	return fs
}

func observe(t testing.TB, paths ...string) *Result {
	t.Helper()
	return observeWith(t, Options{}, paths...)
}

func observeWith(t testing.TB, opts Options, paths ...string) *Result {
	t.Helper()
	e, err := New(Builtin(), opts)
	if err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker()
	ch := make(chan cloudtrail.Input)
	var st cloudtrail.Stats
	onErr := func(e *cloudtrail.InputError) { t.Errorf("input error: %v", e) }
	go cloudtrail.FileInputs(context.Background(), paths, nil, ch, onErr, nil)
	cloudtrail.Process(context.Background(), ch, 1, func(_ int, r *cloudtrail.Record) { w.Observe(r) }, onErr, &st)
	return e.Merge(w)
}

func fired(fs []*Finding) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		m[f.Rule.ID]++
	}
	return m
}

func TestCatalogue(t *testing.T) {
	rules := Builtin()
	if len(rules) < 30 {
		t.Fatalf("%d rules, want at least 30", len(rules))
	}
	kinds := map[string]int{}
	for _, r := range rules {
		kinds[r.Kind]++
		if !strings.HasPrefix(r.AttackURL(), "https://attack.mitre.org/techniques/T") {
			t.Errorf("%s: attack URL %s", r.ID, r.AttackURL())
		}
		rep := r.Report()
		if rep.ID != r.ID || rep.Severity == 0 || rep.Description == "" || len(rep.References) == 0 {
			t.Errorf("%s: incomplete report rule %+v", r.ID, rep)
		}
	}
	for _, k := range []string{KindMatch, KindFirstSeen, KindBurst, KindSequence} {
		if kinds[k] == 0 {
			t.Errorf("no %s rule", k)
		}
	}
	// The list, rule by rule.
	for _, id := range []string{
		"ct-longterm-key-sensitive-api", "ct-first-seen-address", "ct-first-seen-network", "ct-first-seen-region",
		"ct-first-seen-user-agent", "ct-iam-access-key-other-user", "ct-iam-login-profile-created",
		"ct-iam-login-profile-updated", "ct-iam-mfa-removed", "ct-iam-admin-policy-attached", "ct-iam-inline-admin-policy",
		"ct-aws-quarantine-policy", "ct-cloudtrail-stopped", "ct-cloudtrail-deleted", "ct-cloudtrail-updated",
		"ct-cloudtrail-selectors-drop-management", "ct-guardduty-disabled", "ct-config-disabled", "ct-securityhub-disabled",
		"ct-access-analyzer-deleted", "ct-ec2-gpu-instances", "ct-ec2-launch-burst", "ct-getcalleridentity-new-source",
		"ct-access-denied-burst", "ct-root-usage", "ct-root-access-key", "ct-console-login-no-mfa", "ct-offensive-user-agent",
		"ct-secrets-mass-retrieval", "ct-ssm-parameters-decrypted", "ct-list-buckets-then-bulk-read", "ct-region-enabled",
		"ct-billing-alerts-deleted",
	} {
		found := false
		for _, r := range rules {
			found = found || r.ID == id
		}
		if !found {
			t.Errorf("rule %s is missing", id)
		}
	}
}

func TestParseRejectsBadRules(t *testing.T) {
	base := `rules:
- id: ct-x
  title: X
  severity: high
  attack: T1098
  attack_name: Account Manipulation
  tactic: persistence
  description: d
  false_positives: f
  references: [https://example.com]
`
	for name, extra := range map[string]string{
		"no match":       "",
		"bad field":      "  match: {eventNam: X}\n",
		"bad operator":   "  match: {eventName: {like: X}}\n",
		"bad regex":      "  match: {eventName: {regex: '('}}\n",
		"bad kind":       "  kind: magic\n  match: {eventName: X}\n",
		"burst no limit": "  kind: burst\n  match: {eventName: X}\n",
		"bad dimension":  "  kind: first-seen\n  dimension: colour\n",
	} {
		rs, err := Parse([]byte(base + extra))
		if err == nil {
			_, err = New(rs, Options{})
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Parse([]byte(strings.Replace(base, "severity: high", "severity: dire", 1) + "  match: {eventName: X}\n")); err == nil {
		t.Error("bad severity accepted")
	}
}

// Every rule has an event that must fire it and a near miss that must not,
// written in CloudTrail's own format under testdata/rules/<id>/. The
// findings of the firing fixtures are pinned in testdata/rules.golden.
func TestRuleFixtures(t *testing.T) {
	var golden bytes.Buffer
	for _, r := range Builtin() {
		dir := filepath.Join("testdata", "rules", r.ID)
		fire, miss := filepath.Join(dir, "fire.json"), filepath.Join(dir, "miss.json")
		for _, p := range []string{fire, miss} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: no fixture %s", r.ID, p)
			}
		}
		fs := run(t, nil, fire)
		if fired(fs)[r.ID] == 0 {
			t.Errorf("%s: %s does not fire it (fired: %v)", r.ID, fire, fired(fs))
		}
		if n := fired(run(t, nil, miss))[r.ID]; n != 0 {
			t.Errorf("%s: the near miss %s fires it", r.ID, miss)
		}
		fmt.Fprintf(&golden, "== %s\n", r.ID)
		for _, f := range fs {
			if f.Rule.ID != r.ID {
				continue
			}
			fmt.Fprintf(&golden, "%s %s %s\n  %s\n", f.Rule.Severity, f.Key(), f.Rule.Attack, f.Message())
			if len(f.Evidence) > 0 {
				fmt.Fprintf(&golden, "  evidence: %s\n", strings.Join(f.Evidence, "; "))
			}
			if len(f.Created) > 0 {
				fmt.Fprintf(&golden, "  created: %s\n", strings.Join(f.Created, "; "))
			}
			for _, n := range f.Next() {
				fmt.Fprintf(&golden, "  next: %s\n", n)
			}
			fmt.Fprintf(&golden, "  events: %s\n", strings.Join(f.EventIDs, " "))
		}
	}
	checkGolden(t, filepath.Join("testdata", "rules.golden"), golden.Bytes())
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update to accept):\n%s", path, diffLines(string(want), string(got)))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
			if b.Len() > 2000 {
				break
			}
		}
	}
	return b.String()
}

func sharedData(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "..", "..", "shared", "data", "cloudtrail"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("public samples not available (%s): skipping", p)
	}
	return p
}

// Each Stratus Red Team detonation fires the rule written for its
// technique. Techniques without a row here are not covered (see
// docs/detect.md).
func TestStratusRedTeam(t *testing.T) {
	dir := sharedData(t, "stratus-red-team")
	want := map[string][]string{
		"aws.credential-access.ec2-steal-instance-credentials":        {"ct-instance-credentials-reuse"},
		"aws.credential-access.ec2-get-password-data":                 {"ct-ec2-password-data"},
		"aws.credential-access.secretsmanager-batch-retrieve-secrets": {"ct-secrets-batch-retrieval"},
		"aws.credential-access.secretsmanager-retrieve-secrets":       {"ct-secrets-mass-retrieval"},
		"aws.credential-access.ssm-retrieve-securestring-parameters":  {"ct-ssm-parameters-decrypted"},
		"aws.defense-evasion.cloudtrail-delete":                       {"ct-cloudtrail-deleted"},
		"aws.defense-evasion.cloudtrail-event-selectors":              {"ct-cloudtrail-selectors-drop-management"},
		"aws.defense-evasion.cloudtrail-stop":                         {"ct-cloudtrail-stopped"},
		"aws.defense-evasion.dns-delete-logs":                         {"ct-logging-deleted"},
		"aws.defense-evasion.organizations-leave":                     {"ct-organizations-leave"},
		"aws.defense-evasion.vpc-remove-flow-logs":                    {"ct-logging-deleted"},
		"aws.discovery.ec2-download-user-data":                        {"ct-ec2-user-data-read"},
		"aws.execution.ec2-launch-unusual-instances":                  {"ct-ec2-gpu-instances"},
		"aws.execution.ec2-user-data":                                 {"ct-ec2-user-data-modified"},
		"aws.execution.ssm-send-command":                              {"ct-ssm-remote-execution"},
		"aws.execution.ssm-start-session":                             {"ct-ssm-remote-execution"},
		"aws.exfiltration.ec2-security-group-open-port-22-ingress":    {"ct-security-group-open-world"},
		"aws.exfiltration.ec2-share-ami":                              {"ct-snapshot-shared"},
		"aws.exfiltration.ec2-share-ebs-snapshot":                     {"ct-snapshot-shared"},
		"aws.exfiltration.rds-share-snapshot":                         {"ct-snapshot-shared"},
		"aws.impact.bedrock-invoke-model":                             {"ct-bedrock-model-access"},
		"aws.initial-access.console-login-without-mfa":                {"ct-console-login-no-mfa"},
		"aws.lateral-movement.ec2-instance-connect":                   {"ct-ec2-instance-connect"},
		"aws.lateral-movement.ec2-serial-console-send-ssh-public-key": {"ct-ec2-serial-console"},
		"aws.persistence.iam-backdoor-role":                           {"ct-iam-role-trust-modified", "ct-iam-role-trust-outside"},
		"aws.persistence.iam-backdoor-user":                           {"ct-iam-access-key-other-user", "ct-longterm-key-sensitive-api"},
		"aws.persistence.iam-create-admin-user":                       {"ct-iam-user-created", "ct-iam-admin-policy-attached", "ct-iam-access-key-other-user"},
		"aws.persistence.iam-create-backdoor-role":                    {"ct-iam-admin-policy-attached", "ct-iam-role-trust-outside"},
		"aws.persistence.iam-create-user-login-profile":               {"ct-iam-login-profile-created"},
		"aws.persistence.lambda-backdoor-function":                    {"ct-lambda-public-permission"},
		"aws.persistence.lambda-layer-extension":                      {"ct-lambda-code-changed"},
		"aws.persistence.lambda-overwrite-code":                       {"ct-lambda-code-changed"},
		"aws.persistence.rolesanywhere-create-trust-anchor":           {"ct-rolesanywhere-trust-anchor"},
		"aws.persistence.sts-federation-token":                        {"ct-federation-token"},
		"aws.privilege-escalation.iam-update-user-login-profile":      {"ct-iam-login-profile-updated"},
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skip("no Stratus Red Team files")
	}
	covered := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		fs := run(t, nil, f)
		got := fired(fs)
		rules, ok := want[name]
		if !ok {
			t.Logf("%s: not covered by a dedicated rule (fired: %v)", name, got)
			continue
		}
		covered++
		for _, id := range rules {
			if got[id] == 0 {
				t.Errorf("%s: rule %s did not fire (fired: %v)", name, id, got)
			}
		}
		// Every detonation carries Stratus's user agent.
		if got["ct-offensive-user-agent"] == 0 && name != "aws.persistence.sts-federation-token" {
			t.Errorf("%s: the stratus-red-team user agent was not flagged", name)
		}
	}
	if covered < 35 {
		t.Errorf("only %d Stratus techniques covered", covered)
	}
}

// The invictus-ir set is an hour of a real account with attacks among
// ordinary activity: the attacks are found, the background (Terraform, the
// console, AWS services) does not drown them.
func TestInvictusIR(t *testing.T) {
	dir := sharedData(t, "invictus-ir")
	fs := run(t, nil, dir)
	got := fired(fs)
	for _, id := range []string{
		"ct-cloudtrail-deleted", "ct-cloudtrail-selectors-drop-management", "ct-console-login-no-mfa",
		"ct-ec2-gpu-instances", "ct-iam-access-key-other-user", "ct-iam-admin-policy-attached",
		"ct-iam-login-profile-created", "ct-secrets-mass-retrieval", "ct-ssm-parameters-decrypted",
		"ct-snapshot-shared", "ct-security-group-open-world", "ct-lambda-public-permission",
		"ct-organizations-leave", "ct-logging-deleted", "ct-instance-credentials-reuse",
		// The external bucket-policy grant, the lifecycle rule expiring the
		// trail's bucket, and the StopLogging attempts that failed.
		"ct-s3-bucket-policy-outside", "ct-cloudtrail-bucket-lifecycle", "ct-cloudtrail-tamper-failed",
	} {
		if got[id] == 0 {
			t.Errorf("rule %s did not fire on the invictus-ir set (fired: %v)", id, got)
		}
	}
	if len(fs) > 60 {
		t.Errorf("%d findings on one hour of one account: too noisy", len(fs))
	}
	for _, f := range fs {
		// What made the bucket a log bucket is named (and copied out of
		// the reader's buffer, which later records overwrite).
		if f.Rule.ID == "ct-cloudtrail-bucket-lifecycle" && !strings.Contains(f.Message(), "receives CloudTrail logs (from PutBucketPolicy)") && !strings.Contains(f.Message(), "receives CloudTrail logs (from CreateTrail)") {
			t.Errorf("lifecycle finding: %s", f.Message())
		}
		if f.Rule.ID == "ct-secrets-mass-retrieval" {
			if f.Key() != "AKIA************20BJ" || len(f.EventIDs) == 0 || f.Count < 5 {
				t.Errorf("secrets finding: key %s, %d events, ids %v", f.Key(), f.Count, f.EventIDs)
			}
		}
	}
}

// First-seen judged against a stored baseline: a value the baseline knows
// is not new; one it does not know is, even on the key's first event of
// the run.
func TestFirstSeenAgainstBaseline(t *testing.T) {
	fire := filepath.Join("testdata", "rules", "ct-first-seen-network", "fire.json")
	res := observe(t, fire)
	obs := res.Observations(true)
	key := "AKIARTX3GSDS2RWAIZGX"
	if obs[key] == nil || len(obs[key].Dims[1]) != 2 {
		t.Fatalf("observations: %+v", obs[key])
	}
	// Everything already known: nothing new.
	if n := fired(res.Findings(obs))["ct-first-seen-network"]; n != 0 {
		t.Errorf("known networks reported: %d", n)
	}
	// A baseline with only an older network: both networks of this run are
	// new, including the one used at the key's first event here.
	old := &Baseline{}
	old.Dims[1] = map[string]Seen{"192.0.2.0/24": {First: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Last: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Count: 9}}
	fs := res.Findings(map[string]*Baseline{key: old})
	var vals []string
	for _, f := range fs {
		if f.Rule.ID == "ct-first-seen-network" {
			vals = append(vals, f.Value)
		}
	}
	sort.Strings(vals)
	if strings.Join(vals, ",") != "198.51.100.0/24,203.0.113.0/24" {
		t.Errorf("new networks = %v", vals)
	}
}

func TestIgnore(t *testing.T) {
	fs := run(t, nil, filepath.Join("testdata", "rules", "ct-iam-mfa-removed", "fire.json"),
		filepath.Join("testdata", "rules", "ct-cloudtrail-stopped", "fire.json"))
	entries, err := ParseIgnore([]byte(`ignore:
  - rule: ct-iam-mfa-removed
    key: AKIARTX3GSDS2RWAIZGX
    address: 198.51.100.0/24
    expires: 2099-01-01
    reason: phone replaced
  - rule: ct-cloudtrail-stopped
    expires: 2020-01-01
`))
	if err != nil {
		t.Fatal(err)
	}
	expired := ApplyIgnore(fs, entries, time.Date(2024, 6, 3, 0, 0, 0, 0, time.UTC))
	if len(expired) != 1 || expired[0].Rule != "ct-cloudtrail-stopped" {
		t.Errorf("expired = %v", expired)
	}
	for _, f := range fs {
		switch f.Rule.ID {
		case "ct-iam-mfa-removed":
			if f.Suppressed != "ignored: phone replaced" {
				t.Errorf("mfa finding not suppressed: %q", f.Suppressed)
			}
		default:
			if f.Suppressed != "" {
				t.Errorf("%s suppressed: %q", f.Rule.ID, f.Suppressed)
			}
		}
	}
	// The address must cover every source.
	e2, _ := ParseIgnore([]byte("ignore:\n  - address: 203.0.113.1\n"))
	fs = run(t, nil, filepath.Join("testdata", "rules", "ct-iam-mfa-removed", "fire.json"))
	ApplyIgnore(fs, e2, time.Now())
	for _, f := range fs {
		if f.Suppressed != "" {
			t.Errorf("%s suppressed by an address it was not seen from", f.Rule.ID)
		}
	}
	for _, bad := range []string{"ignore:\n  - reason: nothing to match\n", "ignore:\n  - address: 300.1.1.1\n", "ignore:\n  - rule: x\n    expires: soon\n"} {
		if _, err := ParseIgnore([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestReportFinding(t *testing.T) {
	fs := run(t, nil, filepath.Join("testdata", "rules", "ct-iam-access-key-other-user", "fire.json"))
	var f *Finding
	for _, x := range fs {
		if x.Rule.ID == "ct-iam-access-key-other-user" {
			f = x
		}
	}
	if f == nil {
		t.Fatal("no finding")
	}
	r := f.Report()
	// The key ID in full: an on-call engineer pastes it into a revoke
	// command. Text output (Key) keeps the short form.
	if r.Location.Resource != "AKIARTX3GSDS2RWAIZGX" || r.Severity != report.SeverityHigh || r.Fingerprint == "" {
		t.Errorf("report finding: %+v", r)
	}
	if f.Key() != "AKIA************IZGX" {
		t.Errorf("text form of the key: %s", f.Key())
	}
	// What the key created is named, and what to do next says it.
	if len(f.Created) != 1 || f.Created[0] != "access key AKIAWO645SY5PUC3QERU" {
		t.Errorf("created: %v", f.Created)
	}
	next := f.Next()
	if len(next) < 3 || next[0] != "keywarden respond AKIARTX3GSDS2RWAIZGX" || next[len(next)-1] != "keywarden respond AKIAWO645SY5PUC3QERU" {
		t.Errorf("next: %q", next)
	}
	if ids, _ := r.Properties["event_ids"].([]string); len(ids) != 1 {
		t.Errorf("event ids: %v", r.Properties["event_ids"])
	}
}

func TestAgentFamily(t *testing.T) {
	for ua, want := range map[string]string{
		"aws-cli/2.15.30 Python/3.11.8":               "aws-cli",
		"[S3Console/0.4, aws-internal/3]":             "s3console",
		"Boto3/1.34.60 md/Botocore#1.34.60":           "boto3",
		"AWS Internal":                                "",
		"secretsmanager.amazonaws.com":                "",
		"Mozilla/5.0 (X11; Linux x86_64; rv:124.0)":   "mozilla",
		"APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+ht)": "apn",
	} {
		if got := AgentFamily(ua); got != want {
			t.Errorf("AgentFamily(%q) = %q, want %q", ua, got, want)
		}
	}
}

// The worker pool must not change the result: the same findings (rule,
// key, count, first and last time) with 1 worker and with 4.
func TestWorkersAgree(t *testing.T) {
	paths := []string{filepath.Join("testdata", "rules")}
	if p := filepath.Join("..", "..", "..", "..", "shared", "data", "cloudtrail"); dirExists(p) {
		paths = append(paths, p)
	}
	summary := func(workers int) string {
		e, err := New(Builtin(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ws := make([]*Worker, workers)
		for i := range ws {
			ws[i] = e.NewWorker()
		}
		ch := make(chan cloudtrail.Input)
		var st cloudtrail.Stats
		go cloudtrail.FileInputs(context.Background(), paths, nil, ch, func(e *cloudtrail.InputError) { t.Error(e) }, nil)
		cloudtrail.Process(context.Background(), ch, workers, func(w int, r *cloudtrail.Record) { ws[w].Observe(r) }, func(e *cloudtrail.InputError) { t.Error(e) }, &st)
		var b strings.Builder
		for _, f := range e.Merge(ws...).Findings(nil) {
			fmt.Fprintf(&b, "%s %s %s %d %s %s\n", f.Rule.ID, f.Key(), f.Value, f.Count, stamp(f.First), stamp(f.Last))
		}
		return b.String()
	}
	one, four := summary(1), summary(4)
	if one != four {
		t.Errorf("1 worker and 4 disagree:\n%s", diffLines(one, four))
	}
	if strings.Count(one, "\n") < 50 {
		t.Errorf("only %d findings over every fixture", strings.Count(one, "\n"))
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

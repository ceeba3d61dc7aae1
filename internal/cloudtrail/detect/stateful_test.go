package detect

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awsipranges"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/inventory"
)

// findingsOf lists "rule key value" for the findings of the given rules.
func findingsOf(fs []*Finding, rules ...string) []string {
	var out []string
	for _, f := range fs {
		if contains(rules, f.Rule.ID) {
			out = append(out, f.Rule.ID+" "+f.KeyID+" "+f.Value)
		}
	}
	sort.Strings(out)
	return out
}

// A key the store never saw, in an account the store knows: judged at its
// very first call against what the account is known to use, not given its
// first hour as a baseline of its own.
func TestAccountBaselineJudgesNewKey(t *testing.T) {
	dir := filepath.Join("testdata", "stateful")
	prior := observe(t, filepath.Join(dir, "history.json")).Observations(true)
	acct := prior[AccountKey("111122223333")]
	if acct == nil || len(acct.Dims[dimIndex(DimLaunchRegion)]) != 1 {
		t.Fatalf("account baseline: %+v", acct)
	}
	rules := []string{"ct-account-getcalleridentity-new-network", "ct-account-new-network", "ct-account-new-user-agent",
		"ct-ec2-first-launch-region", "ct-first-seen-network", "ct-first-seen-address", "ct-getcalleridentity-new-source"}
	newKey := observe(t, filepath.Join(dir, "newkey.json"))
	for _, tc := range []struct {
		name  string
		prior map[string]*Baseline
		want  []string
	}{
		{"account known", prior, []string{
			"ct-account-getcalleridentity-new-network AKIAWO645SY5PUC3QERU 203.0.113.0/24",
			"ct-account-new-network AKIAWO645SY5PUC3QERU 203.0.113.0/24",
			"ct-account-new-user-agent AKIAWO645SY5PUC3QERU python-requests",
			"ct-ec2-first-launch-region AKIAWO645SY5PUC3QERU ap-south-1",
			// In the account's office network, but an address the
			// account never used: the key's own (low) rule says so.
			"ct-first-seen-address AKIAWO645SY5PUC3QERU 198.51.100.23",
		}},
		// Without the account's baseline the key's first hour is its own
		// baseline, and the account's too: nothing can be judged.
		{"no stored state", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := findingsOf(newKey.Findings(tc.prior), rules...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	// The account's known network and launch region are not new, and the
	// key's first call is judged (no warm-up) with the account's baseline.
	for _, f := range newKey.Findings(prior) {
		if f.Value == "198.51.100.0/24" || f.Value == "us-east-1" {
			t.Errorf("%s reported a value the account knows: %s", f.Rule.ID, f.Value)
		}
	}
	// A key new to the store, judged against its account: its own rules
	// have no warm-up either (the region it launched in is new to it).
	if got := findingsOf(newKey.Findings(prior), "ct-first-seen-region"); len(got) != 1 || !strings.HasSuffix(got[0], " ap-south-1") {
		t.Errorf("key-scope region: %v", got)
	}
	// An account the store knows, which never launched an instance: its
	// first launches are new, whatever the region, with no warm-up.
	noLaunch := *prior[AccountKey("111122223333")]
	noLaunch.Dims[dimIndex(DimLaunchRegion)] = nil
	got := findingsOf(newKey.Findings(map[string]*Baseline{AccountKey("111122223333"): &noLaunch}), "ct-ec2-first-launch-region")
	if strings.Join(got, ",") != "ct-ec2-first-launch-region AKIAWO645SY5PUC3QERU ap-south-1,ct-ec2-first-launch-region AKIAWO645SY5PUC3QERU us-east-1" {
		t.Errorf("first launches of an account that never launched: %v", got)
	}
	// Stored: each key, and the account under its own name.
	obs := newKey.Observations(true)
	if obs[AccountKey("111122223333")] == nil || obs["AKIAWO645SY5PUC3QERU"] == nil || len(obs) != 2 {
		t.Errorf("observations: %v", obs)
	}
	if keys := newKey.Keys(); !contains(keys, AccountKey("111122223333")) {
		t.Errorf("keys to load: %v", keys)
	}
}

// The credential report's last-used date stands for the stored last use:
// a key last used long before the logs read, or never used since created
// long before, is dormant; a report taken after the run says nothing
// about before it.
func TestDormantFromCredentialReport(t *testing.T) {
	dir := filepath.Join("testdata", "stateful")
	data, err := os.ReadFile(filepath.Join(dir, "credential-report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inventory.ParseCredentialReport("credential-report.csv", data)
	if err != nil {
		t.Fatal(err)
	}
	use, skipped := ReportedUse(rep)
	if len(use) != 3 || skipped != 0 || !use["arn:aws:iam::111122223333:user/carol"].Never {
		t.Fatalf("reported use: %+v (%d skipped)", use, skipped)
	}
	for _, tc := range []struct {
		name     string
		reported map[string]KeyUse
		want     []string
	}{
		{"with report", use, []string{
			"ct-dormant-key-used AKIARTX3GSDSCAROL001 2024-06-03",
			"ct-dormant-key-used AKIARTX3GSDSLEAKED01 2024-06-03",
		}},
		{"without", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := observeWith(t, Options{Reported: tc.reported}, filepath.Join(dir, "reported.json")).Findings(nil)
			got := findingsOf(fs, "ct-dormant-key-used")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, f := range fs {
				if f.Rule.ID == "ct-dormant-key-used" && !strings.Contains(f.Message(), "per the credential report") {
					t.Errorf("message does not say where the date comes from: %s", f.Message())
				}
			}
		})
	}
	// A stored last use later than the report's date wins.
	b := &Baseline{}
	b.Dims[0] = map[string]Seen{"198.51.100.7": {First: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Last: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), Count: 1}}
	fs := observeWith(t, Options{Reported: use}, filepath.Join(dir, "reported.json")).Findings(map[string]*Baseline{"AKIARTX3GSDSLEAKED01": b})
	if got := findingsOf(fs, "ct-dormant-key-used"); len(got) != 1 || !strings.Contains(got[0], "CAROL") {
		t.Errorf("with a recent stored use: %v", got)
	}
}

// Instance and task credentials are judged against the ranges given: the
// same records are clean when the addresses are AWS's.
func TestInstanceOutsideUsesRanges(t *testing.T) {
	fire := filepath.Join("testdata", "rules", "ct-instance-credentials-outside-aws", "fire.json")
	all, err := awsipranges.Parse("test", []byte("52.20.0.0/14 EC2 us-east-1\n203.0.113.0/24 EC2 us-east-1\n198.51.100.0/24 EC2 us-east-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	some, err := awsipranges.Parse("test", []byte("52.20.0.0/14 EC2 us-east-1\n203.0.113.0/24 EC2 us-east-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		ranges *awsipranges.Set
		want   []string
	}{
		// The call through another account's VPC endpoint (INSTANC2) is
		// found whatever the ranges say: no address range tells it.
		{"shipped", nil, []string{
			"ct-instance-credentials-outside-aws ASIARTX3GSDSECSTASK1 198.51.100.99",
			"ct-instance-credentials-outside-aws ASIARTX3GSDSINSTANC2 vpce-0a1b2c3d4e5f60718",
			"ct-instance-credentials-outside-aws ASIARTX3GSDSINSTANCE 203.0.113.50",
			"ct-instance-credentials-outside-aws ASIARTX3GSDSLAMBDA01 198.51.100.77",
		}},
		{"every address AWS's", all, []string{
			"ct-instance-credentials-outside-aws ASIARTX3GSDSINSTANC2 vpce-0a1b2c3d4e5f60718",
		}},
		{"the task's and function's addresses outside", some, []string{
			"ct-instance-credentials-outside-aws ASIARTX3GSDSECSTASK1 198.51.100.99",
			"ct-instance-credentials-outside-aws ASIARTX3GSDSINSTANC2 vpce-0a1b2c3d4e5f60718",
			"ct-instance-credentials-outside-aws ASIARTX3GSDSLAMBDA01 198.51.100.77",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := findingsOf(observeWith(t, Options{AWSRanges: tc.ranges}, fire).Findings(nil), "ct-instance-credentials-outside-aws")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSessionKinds(t *testing.T) {
	for _, tc := range []struct {
		principal      string
		instance, task bool
	}{
		{"AROAEXAMPLE:i-0123456789abcdef0", true, false},
		{"AROAEXAMPLE:i-01234567", true, false},
		{"AROAEXAMPLE:0123456789abcdef0123456789abcdef", false, true},
		{"AROAEXAMPLE:0123456789ABCDEF0123456789ABCDEF", false, false}, // task IDs are lower case
		{"AROAEXAMPLE:0123456789abcdef0123456789abcde", false, false},  // 31 digits
		{"AROAEXAMPLE:botocore-session-1717416000", false, false},
		{"AIDAEXAMPLE", false, false},
	} {
		if isInstanceSession(tc.principal) != tc.instance || isTaskSession(tc.principal) != tc.task {
			t.Errorf("%s: instance %v task %v", tc.principal, isInstanceSession(tc.principal), isTaskSession(tc.principal))
		}
	}
	for _, tc := range []struct {
		addr    string
		outside bool
	}{
		{"203.0.113.50", true}, {"52.20.10.5", false}, {"10.0.1.5", false}, {"100.64.1.1", false},
		{"127.0.0.1", false}, {"169.254.169.254", false}, {"::ffff:203.0.113.50", true}, {"fd00::1", false},
	} {
		if got := outsideAWS(awsipranges.Builtin(), netip.MustParseAddr(tc.addr)); got != tc.outside {
			t.Errorf("outsideAWS(%s) = %v", tc.addr, got)
		}
	}
}

// The first event of a value does not depend on which worker read it:
// two events at the same second, read in either order, name the same one.
func TestFirstEventTieBreak(t *testing.T) {
	e, err := New(Builtin(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(id string) *cloudtrail.Record {
		return &cloudtrail.Record{EventID: id, EventName: "ListBuckets", EventSource: "s3.amazonaws.com", AWSRegion: "us-east-1",
			EventTime: time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC), SourceIPAddress: "203.0.113.50", UserAgent: "aws-cli/2.15.30",
			UserIdentity: cloudtrail.UserIdentity{AccessKeyID: "AKIARTX3GSDS2RWAIZGX", AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice"}}
	}
	first := func(order ...string) string {
		ws := []*Worker{e.NewWorker(), e.NewWorker()}
		for i, id := range order {
			ws[i%2].Observe(rec(id))
		}
		e.seen = newEventSet()
		var ids []string
		for _, w := range [][]*Worker{ws, {ws[1], ws[0]}} {
			res := e.Merge(w...)
			ids = append(ids, res.obs["AKIARTX3GSDS2RWAIZGX"].dims[0]["203.0.113.50"].firstID)
		}
		return strings.Join(ids, " ")
	}
	if a, b := first("e-2", "e-1"), first("e-1", "e-2"); a != "e-1 e-1" || b != "e-1 e-1" {
		t.Errorf("first event: %q and %q, want e-1 each time", a, b)
	}
	// Within one worker too.
	w := e.NewWorker()
	w.Observe(rec("e-4"))
	w.Observe(rec("e-3"))
	if id := e.Merge(w).obs["AKIARTX3GSDS2RWAIZGX"].dims[0]["203.0.113.50"].firstID; id != "e-3" {
		t.Errorf("one worker: first event %s", id)
	}
}

// A hostile awsRegion is not kept as a launch region (it would be stored).
func TestLaunchRegionBounded(t *testing.T) {
	e, err := New(Builtin(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker()
	for i, region := range []string{"ap-south-1", strings.Repeat("x", maxRegionLen+1)} {
		w.Observe(&cloudtrail.Record{EventID: fmt.Sprint("e-", i), EventName: "RunInstances", EventSource: "ec2.amazonaws.com", AWSRegion: region,
			EventTime:    time.Date(2024, 6, 3, 9, i, 0, 0, time.UTC),
			UserIdentity: cloudtrail.UserIdentity{AccessKeyID: "AKIARTX3GSDS2RWAIZGX", AccountID: "111122223333"}})
	}
	got := e.Merge(w).Observations(true)["AKIARTX3GSDS2RWAIZGX"].Dims[dimIndex(DimLaunchRegion)]
	if len(got) != 1 || got["ap-south-1"].Count != 1 {
		t.Errorf("launch regions: %v", got)
	}
}

// Instance sessions: their networks are neither learnt for the account nor
// judged, but what they launch is (stolen instance credentials launching
// in a new region are reported).
func TestComputeSessionsInAccountBaseline(t *testing.T) {
	e, err := New(Builtin(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	inst := cloudtrail.UserIdentity{AccessKeyID: "ASIARTX3GSDSINSTANCE", AccountID: "111122223333", PrincipalID: "AROARTX3GSDSEXAMPLE02:i-0123456789abcdef0",
		ARN: "arn:aws:sts::111122223333:assumed-role/web/i-0123456789abcdef0"}
	w := e.NewWorker()
	for i, r := range []struct{ name, region, ip string }{
		{"DescribeInstances", "us-east-1", "52.20.10.5"},
		{"RunInstances", "ap-south-1", "52.20.10.5"},
	} {
		w.Observe(&cloudtrail.Record{EventID: fmt.Sprint("e-", i), EventName: r.name, EventSource: "ec2.amazonaws.com", AWSRegion: r.region,
			EventTime: time.Date(2024, 6, 3, 9, i, 0, 0, time.UTC), SourceIPAddress: r.ip, UserAgent: "aws-cli/2.15.30", UserIdentity: inst})
	}
	res := e.Merge(w)
	acct := res.Observations(true)[AccountKey("111122223333")]
	if acct == nil || len(acct.Dims[0]) != 0 || len(acct.Dims[1]) != 0 || len(acct.Dims[dimIndex(DimLaunchRegion)]) != 1 {
		t.Fatalf("account baseline from an instance session: %+v", acct)
	}
	// Against a stored baseline of the account (launches in us-east-1).
	prior := &Baseline{}
	prior.Dims[dimIndex(DimLaunchRegion)] = map[string]Seen{"us-east-1": {First: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Last: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Count: 1}}
	prior.Dims[1] = map[string]Seen{"198.51.100.0/24": {First: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Last: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Count: 1}}
	got := findingsOf(res.Findings(map[string]*Baseline{AccountKey("111122223333"): prior}), "ct-ec2-first-launch-region", "ct-account-new-network")
	if strings.Join(got, ",") != "ct-ec2-first-launch-region ASIARTX3GSDSINSTANCE ap-south-1" {
		t.Errorf("findings: %v", got)
	}
}

// A console session's key is named by its group whichever worker read
// its console records, and in whichever order the workers are merged.
func TestConsoleGroupAcrossWorkers(t *testing.T) {
	e, err := New(Builtin(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := cloudtrail.UserIdentity{AccessKeyID: "ASIARTX3GSDSCONS0001", AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:root"}
	rec := func(i int, console cloudtrail.Bool) *cloudtrail.Record {
		return &cloudtrail.Record{EventID: fmt.Sprint("e-", i), EventName: "DescribeInstances", EventSource: "ec2.amazonaws.com", AWSRegion: "eu-west-1",
			EventTime: time.Date(2024, 6, 3, 9, i, 0, 0, time.UTC), SourceIPAddress: "198.51.100.7", UserAgent: "Mozilla/5.0", FromConsole: console, UserIdentity: id}
	}
	for _, swap := range []bool{false, true} {
		e.seen = newEventSet() // the same events again
		a, b := e.NewWorker(), e.NewWorker()
		a.Observe(rec(0, cloudtrail.Unset))
		b.Observe(rec(1, cloudtrail.True))
		ws := []*Worker{a, b}
		if swap {
			ws = []*Worker{b, a}
		}
		if got := e.Merge(ws...).obs["ASIARTX3GSDSCONS0001"].console; got != "arn:aws:iam::111122223333:root (console from 198.51.100.7)" {
			t.Errorf("swap %v: console group %q", swap, got)
		}
	}
}

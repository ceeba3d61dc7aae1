package respond

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/report"
)

func sharedData(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "..", "shared", "data"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared samples not present (%v)", err)
	}
	return p
}

func loadLogs(t *testing.T, key string, paths ...string) *Logs {
	t.Helper()
	open := func() <-chan cloudtrail.Input {
		ch := make(chan cloudtrail.Input)
		go cloudtrail.FileInputs(context.Background(), paths, nil, ch, func(e *cloudtrail.InputError) { t.Error(e) }, nil)
		return ch
	}
	return LoadLogs(context.Background(), open, paths, key, func(e *cloudtrail.InputError) { t.Error(e) })
}

// The Stratus Red Team detonations, read as local logs: the keys that
// create an admin user and back-door an existing one are followed into
// the keys they created, and everything they made is listed with its
// undo command.
func TestInvestigateStratus(t *testing.T) {
	dir := sharedData(t, "cloudtrail", "stratus-red-team")
	tests := []struct {
		key      string
		keys     []string
		created  []string // kind ARN
		undo     string
		findings bool
	}{
		{key: "AKIAOZUDECYXYM4ONAN4", keys: []string{"AKIAOZUDECYXYM4ONAN4", "AKIAXAFZN8JEPF6L682H"},
			created: []string{
				"user arn:aws:iam::229654561268:user/malicious-iam-user",
				"policy-attachment arn:aws:iam::229654561268:user/malicious-iam-user",
				"access-key AKIAXAFZN8JEPF6L682H",
			},
			undo: "aws iam detach-user-policy --user-name malicious-iam-user --policy-arn arn:aws:iam::aws:policy/AdministratorAccess", findings: true},
		{key: "AKIA30BEZSJBVKOFKZW0", keys: []string{"AKIA30BEZSJBVKOFKZW0", "AKIAL80DWDVKKM0UXEER"},
			created: []string{"access-key AKIAL80DWDVKKM0UXEER"},
			undo:    "aws iam delete-access-key --user-name stratus-red-team-backdoor-u-user --access-key-id AKIAL80DWDVKKM0UXEER", findings: true},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			logs := loadLogs(t, tc.key, dir)
			if logs.Records < 300 || logs.Skipped != 0 {
				t.Errorf("read %d records, skipped %d", logs.Records, logs.Skipped)
			}
			inv := Investigate(tc.key, logs.Events)
			if !slices.Equal(inv.Keys, tc.keys) {
				t.Errorf("keys %v, want %v", inv.Keys, tc.keys)
			}
			var got []string
			undo := ""
			for _, r := range inv.Created {
				got = append(got, r.Kind+" "+r.ARN)
				undo += r.Undo + "\n"
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.created))
			if !slices.Equal(got, want) {
				t.Errorf("created:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !strings.Contains(undo, tc.undo) {
				t.Errorf("undo commands lack %q:\n%s", tc.undo, undo)
			}
			if tc.findings && len(inv.Findings) == 0 {
				t.Error("no detect finding for the key")
			}
			if inv.Events == 0 || inv.First.IsZero() || len(inv.Services) == 0 || len(inv.Addresses) == 0 {
				t.Errorf("timeline: %+v", inv)
			}
		})
	}
}

// The trail of the test account: derived keys, tallies, the timeline and
// the findings are those of the key's family only.
func TestInvestigate(t *testing.T) {
	events := decodeEvents(t, trailWith())
	inv := Investigate(leaked, events)
	if got := strings.Join(inv.Keys, " "); got != strings.Join(sorted(leaked, created, session), " ") {
		t.Errorf("keys %s", got)
	}
	if inv.Events != 5 {
		t.Errorf("events %d (bob's key must not count)", inv.Events)
	}
	tally := func(cs []Count) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Value+"/"+c.Network+"/"+strings.Join(c.Detail, ","))
		}
		return strings.Join(out, " ")
	}
	if got := tally(inv.Addresses); got != "198.51.100.7/198.51.100.0/24/ 2001:db8:7::1/2001:db8:7::/48/" {
		t.Errorf("addresses %s", got)
	}
	if got := tally(inv.Services); got != "iam//CreateAccessKey,CreateUser ec2//RunInstances s3//ListBuckets sts//AssumeRole" {
		t.Errorf("services %s", got)
	}
	var tl []string
	for _, e := range inv.Timeline {
		tl = append(tl, e.Call)
	}
	// Read-only calls are left out of the timeline.
	if got := strings.Join(tl, " "); got != "iam:CreateUser iam:CreateAccessKey ec2:RunInstances" {
		t.Errorf("timeline %s", got)
	}
	if got := RolesAssumed(inv); !slices.Equal(got, []string{"ops"}) {
		t.Errorf("roles %v", got)
	}
	if got := CreatedKeys(inv); len(got) != 1 || got[0].ID != created || got[0].User != "backdoor" {
		t.Errorf("created keys %v", got)
	}
}

func TestGraph(t *testing.T) {
	g := NewGraph()
	for _, e := range decodeEvents(t, trailWith()) {
		g.Observe(e.Record())
	}
	if got := g.Root(session); got != leaked {
		t.Errorf("root of the session %s", got)
	}
	if got := g.Root(leaked); got != leaked {
		t.Errorf("root of the key %s", got)
	}
	f := NewFilter(g, created)
	var kept []string
	for _, e := range decodeEvents(t, trailWith()) {
		if f.Keep(e.Record()) {
			kept = append(kept, e.EventID)
		}
	}
	if strings.Join(kept, " ") != "ev-5" {
		t.Errorf("filter on the created key kept %v", kept)
	}
}

// Whatever a log holds, the investigation and its reports do not panic
// and let no terminal control character through.
func FuzzInvestigate(f *testing.F) {
	f.Add([]byte(trailWith(hostileTrail)))
	f.Add([]byte(`{"eventName":"CreateAccessKey","userIdentity":{"accessKeyId":"AKIARZPUZDIKLEAKEDKY"},"responseElements":{"accessKey":{"accessKeyId":"AKIA\u001b[2JZPUZDIKLEAKED","userName":[1,2]}}}`))
	// A lone 0x9b byte (CSI to an 8-bit terminal) in a bucket name.
	f.Add([]byte("{\"eventName\":\"CreateBucket\",\"userIdentity\":{\"accessKeyId\":\"AKIARZPUZDIKLEAKEDKY\"},\"requestParameters\":{\"bucketName\":\"b\x9b2J\"}}"))
	f.Add([]byte(`{"eventName":"RunInstances","userIdentity":{"accessKeyId":"AKIARZPUZDIKLEAKEDKY"},"responseElements":{"instancesSet":{"items":[{"instanceId":{"x":1}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var events []Event
		cloudtrail.Decode("fuzz", bytes.NewReader(data), func(r *cloudtrail.Record) { events = append(events, EventOf(r)) }, func(*cloudtrail.InputError) {})
		inv := Investigate(leaked, events)
		rep := &Report{Tool: "keywarden respond", KeyID: leaked, Subject: leaked, Investigation: inv, Persistence: inv.Created,
			Identity: &Identity{KeyID: leaked, User: "alice"}}
		rep.ToDo = ToDo(rep)
		var b bytes.Buffer
		if err := WriteText(&b, rep, report.NewPalette(false)); err != nil {
			t.Fatal(err)
		}
		if err := WriteMarkdown(&b, rep); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(b.Bytes()) {
			t.Fatalf("invalid UTF-8 reached a report")
		}
		for _, r := range b.String() {
			if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0) {
				t.Fatalf("control character %U reached a report", r)
			}
		}
	})
}

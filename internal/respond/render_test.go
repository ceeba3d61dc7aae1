package respond

import (
	"bytes"
	"github.com/keywarden/keywarden/internal/goldentest"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/report"
)

// hostileTrail is the test trail with terminal escapes and Markdown in the
// fields an attacker controls (user agent, bucket name).
const hostileTrail = `{"eventVersion":"1.08","eventTime":"2026-02-27T10:06:00Z","eventSource":"s3.amazonaws.com","eventName":"CreateBucket","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"evil\u001b]0;pwned\u0007agent|<b>","readOnly":false,"eventID":"ev-6","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","accessKeyId":"LEAKED","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"requestParameters":{"bucketName":"loot\u001b[2J|x"}}`

func goldenReport(t *testing.T) *Report {
	events := decodeEvents(t, trailWith(hostileTrail))
	inv := Investigate(leaked, events)
	inv.Sources = []string{"trail.json"}
	id := &Identity{KeyID: leaked, Kind: "long-term", KeyAccount: "123456789012", CallerAccount: "123456789012",
		CallerARN: "arn:aws:iam::123456789012:user/responder", User: "alice", UserARN: "arn:aws:iam::123456789012:user/alice",
		Status: "Active", Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		LastUsed:   &LastUse{Date: time.Date(2026, 2, 27, 10, 2, 0, 0, time.UTC), Service: "sts", Region: "us-east-1"},
		MFADevices: []string{"arn:aws:iam::123456789012:mfa/alice"}, ConsolePassword: true, Policies: []string{"inline:admin"},
		Exposure: &audit.Exposure{WithoutMFA: []audit.Grant{{Action: "iam:CreateAccessKey"}, {Action: "s3:GetObject", Depends: []string{"resource"}}}}}
	rep := &Report{Tool: "keywarden respond", Version: "test", Started: cutoff, Finished: cutoff.Add(time.Minute), KeyID: leaked, Subject: leaked,
		Identity: id, Investigation: inv, RoleSessions: RolesAssumed(inv)}
	rep.Steps = Plan(id, Facts{CreatedKeys: []KeyState{{ID: created, User: "backdoor", Status: "Active"}}}, PlanOptions{Now: cutoff, ContainCreated: true})
	for i, s := range rep.Steps {
		s.Status, s.At = Done, cutoff.Add(time.Duration(i)*time.Second)
	}
	rep.Steps[2].Status, rep.Steps[2].Error = Failed, "AccessDenied: not authorized"
	rep.Persistence = persistence(inv, rep.Steps)
	rep.ToDo = ToDo(rep)
	return rep
}

func TestRenderGolden(t *testing.T) {
	rep := goldenReport(t)
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error { return WriteText(b, rep, report.NewPalette(false)) }},
		{"report.md", func(b *bytes.Buffer) error { return WriteMarkdown(b, rep) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if strings.ContainsAny(out, "\x1b\x07") {
				t.Errorf("a terminal control character reached the output")
			}
			goldentest.Check(t, tc.file, b.Bytes())
		})
	}
	// The JSON report round-trips, and --undo reads it.
	var b bytes.Buffer
	if err := WriteJSON(&b, []*Report{rep}); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport("r.json", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if undo, _ := UndoSteps(back); len(undo) != 2 {
		t.Errorf("undo of a report with 2 done steps: %d steps", len(undo))
	}
	if strings.Contains(b.String(), "IQoJb3JpZ2luX2VjEXAMPLETOKEN") {
		t.Error("a session token from responseElements reached the report")
	}
}

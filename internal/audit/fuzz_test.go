package audit_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
)

func FuzzParseActions(f *testing.F) {
	f.Add([]byte("# sensitive\niam:CreateUser\ns3:Get*\n"))
	f.Add([]byte("iam:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		acts, err := audit.ParseActions("fuzz", data)
		if err == nil && len(acts) == 0 {
			t.Fatal("no error and no actions")
		}
	})
}

// FuzzAuditReport drives a hostile credential report through the whole
// pipeline: parse, audit, every renderer. Nothing may panic.
func FuzzAuditReport(f *testing.F) {
	f.Add(read(f, "testdata/credential-report.csv"))
	f.Add(read(f, "../inventory/testdata/old-16-columns.csv"))
	f.Add([]byte("user,arn,user_creation_time,password_enabled,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date\nx,y,2999-01-01T00:00:00Z,true,true,0001-01-01T00:00:00Z,N/A\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := inventory.ParseCredentialReport("fuzz", data)
		if err != nil {
			return
		}
		a := inventory.New()
		a.ApplyCredentialReport("fuzz", rep)
		r := audit.Run(a, audit.Options{Now: now})
		var b bytes.Buffer
		for _, w := range []func() error{
			func() error { return audit.WriteText(&b, r, audit.TextOptions{}) },
			func() error { return audit.WriteJSON(io.Discard, "fuzz", r) },
			func() error { return audit.WriteCSV(io.Discard, r) },
			func() error { return audit.WriteHTML(io.Discard, "fuzz", r) },
			func() error { return audit.WriteSARIF(io.Discard, "fuzz", r) },
		} {
			if err := w(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzAuditDetails runs the whole audit, exposure engine included, over
// hostile authorization details: the escalation paths, the attacker's
// address from the policies' networks and the per-policy checks must not
// panic on anything the parser accepts.
func FuzzAuditDetails(f *testing.F) {
	f.Add(read(f, "testdata/authorization-details.json"))
	f.Add(read(f, "testdata/privesc/authorization-details.json"))
	f.Add([]byte(`{"UserDetailList":[{"UserName":"x","Arn":"arn:aws:iam::1:user/x","UserPolicyList":[{"PolicyName":"p","PolicyDocument":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["0.0.0.0/0","::/0","1.2.3.4","bad"]}}}}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := inventory.New()
		if err := a.ParseAuthorizationDetails("fuzz", data); err != nil {
			return
		}
		r := audit.Run(a, audit.Options{Now: now, Exposer: audit.NewEngineExposer()})
		if err := audit.WriteText(io.Discard, r, audit.TextOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}

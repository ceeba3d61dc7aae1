package detect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

func TestFactRefs(t *testing.T) {
	for _, tc := range []struct{ kind, field, in, want string }{
		{KindKeyInUse, "requestParameters.keyId", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab", "1234abcd-12ab"},
		{KindKeyInUse, "requestParameters.keyId", "1234abcd-12ab", "1234abcd-12ab"},
		{KindKeyInUse, "requestParameters.keyId", "arn:aws:kms:eu-west-1:111122223333:alias/payments", "alias/payments"},
		{KindKeyInUse, "requestParameters.keyId", "alias/payments", "alias/payments"},
		{KindAdminRole, "requestParameters.role", "arn:aws:iam::111122223333:role/path/to/ops", "role:ops"},
		{KindAdminRole, "requestParameters.roleArn", "ops", "role:ops"},
		{KindAdminRole, "requestParameters.iamInstanceProfile.name", "web", "profile:web"},
		{KindAdminRole, "requestParameters.iamInstanceProfile.arn", "arn:aws:iam::111122223333:instance-profile/web", "profile:web"},
		{KindAdminRole, "requestParameters.jobFlowRole", "EMR_EC2_DefaultRole", "profile:EMR_EC2_DefaultRole"},
		{KindLogBucket, "requestParameters.bucketName", "logs", "logs"},
	} {
		if got := subjectRef(tc.kind, tc.field, tc.in); got != tc.want {
			t.Errorf("%s %s %q: %q, want %q", tc.kind, tc.field, tc.in, got, tc.want)
		}
	}
}

// Facts learnt by one worker judge the events another worker kept, and
// a grant logged after the launch still counts: each record of the
// fixture goes to its own worker.
func TestFactsAcrossWorkers(t *testing.T) {
	for _, id := range []string{"ct-passrole-admin-compute", "ct-kms-key-in-use-disabled", "ct-cloudtrail-bucket-lifecycle"} {
		data, err := os.ReadFile(filepath.Join("testdata", "rules", id, "fire.json"))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Builtin(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Reversed (the fixtures hold one record a line): every learning
		// event comes after the event it judges.
		lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
		recs := lines[1 : len(lines)-1]
		for i := range recs {
			recs[i] = bytes.TrimSuffix(recs[i], []byte(","))
		}
		slices.Reverse(recs)
		reversed := append(append([]byte(`{"Records":[`), bytes.Join(recs, []byte(","))...), "]}"...)
		var ws []*Worker
		cloudtrail.Decode("fire.json", bytes.NewReader(reversed), func(r *cloudtrail.Record) {
			w := e.NewWorker()
			w.Observe(r)
			ws = append(ws, w)
		}, func(e *cloudtrail.InputError) { t.Fatal(e) })
		if len(ws) != len(recs) || len(ws) < 2 {
			t.Fatalf("%s: %d records read of %d", id, len(ws), len(recs))
		}
		got := fired(e.Merge(ws...).Findings(nil))[id]
		want := fired(run(t, nil, filepath.Join("testdata", "rules", id, "fire.json")))[id]
		if got == 0 || got != want {
			t.Errorf("%s: %d findings from one worker per record, %d from one worker", id, got, want)
		}
	}
}

// A run fed more distinct keys than it remembers stays bounded, and
// values longer than a real name are not kept.
func TestFactsBounded(t *testing.T) {
	e, err := New(Builtin(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker()
	for i := 0; i < maxFacts+100; i++ {
		w.Observe(&cloudtrail.Record{EventName: "Decrypt", EventSource: "kms.amazonaws.com",
			RequestParameters: []byte(fmt.Sprintf(`{"keyId":"key-%d"}`, i))})
	}
	w.Observe(&cloudtrail.Record{EventName: "Decrypt", EventSource: "kms.amazonaws.com",
		RequestParameters: []byte(`{"keyId":"` + strings.Repeat("k", maxFactLen+1) + `"}`)})
	if len(w.facts) != maxFacts {
		t.Errorf("%d facts, want the cap %d", len(w.facts), maxFacts)
	}
	if !e.Merge(w).FactsFull {
		t.Error("the cap was reached and the result does not say so")
	}
	if e.Merge(e.NewWorker()).FactsFull {
		t.Error("an empty run says its facts are full")
	}
	f := facts{}
	f.add(factKeyUsed, strings.Repeat("k", maxFactLen+1), "Decrypt")
	if len(f) != 0 {
		t.Errorf("a %d-byte value was kept", maxFactLen+1)
	}
}

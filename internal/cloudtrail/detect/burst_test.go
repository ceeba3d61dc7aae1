package detect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// A burst finding's "N distinct ... in one window" must not depend on how
// files were spread over workers: each worker remembers a capped number of
// distinct values, so the merged count used to land anywhere between the
// cap and workers×cap (the public invictus-ir sample showed 10 to 20
// secrets from run to run), and a single worker understated 24 secrets as
// "10". The count is exact below the cap and "at least" the cap above it,
// and the values shown are the same in every run.
func TestBurstDistinctIndependentOfWorkers(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 24 {
		fmt.Fprintf(&b, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDARTX3GSDSEXAMPLE01","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIARTX3GSDS2RWAIZGX","userName":"alice"},"eventTime":"2024-06-03T14:%02d:00Z","eventSource":"secretsmanager.amazonaws.com","eventName":"GetSecretValue","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.50","userAgent":"aws-cli/2.15.30","requestParameters":{"secretId":"prod/db-%02d"},"responseElements":null,"eventID":"5eed0000-0000-0000-0000-0000000002%02d","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}`+"\n", i/4, (i*7)%24, i)
	}
	path := filepath.Join(dir, "secrets.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	detail := func(workers int) string {
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
		onErr := func(e *cloudtrail.InputError) { t.Error(e) }
		go cloudtrail.FileInputs(context.Background(), []string{path}, nil, ch, onErr, nil)
		n := 0
		cloudtrail.Process(context.Background(), ch, 1, func(_ int, r *cloudtrail.Record) {
			ws[n%workers].Observe(r) // spread records as a pool spreads files
			n++
		}, onErr, &st)
		for _, f := range e.Merge(ws...).Findings(nil) {
			if f.Rule.ID == "ct-secrets-mass-retrieval" {
				return strings.Join(f.Detail, "\n")
			}
		}
		t.Fatalf("%d workers: ct-secrets-mass-retrieval did not fire", workers)
		return ""
	}
	one := detail(1)
	if !strings.Contains(one, "at least 10 distinct requestParameters.secretId in one window: prod/db-00, prod/db-01, prod/db-02, prod/db-03, prod/db-04, ...") {
		t.Errorf("1 worker: %s", one)
	}
	for _, w := range []int{2, 3, 5} {
		if got := detail(w); got != one {
			t.Errorf("%d workers:\n%s\n1 worker:\n%s", w, got, one)
		}
	}
}

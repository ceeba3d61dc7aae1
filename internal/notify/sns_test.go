package notify

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/notify/notifytest"
)

// TestSNSMoto publishes to a topic on moto_server and reads the message
// back from an SQS queue subscribed to it.
func TestSNSMoto(t *testing.T) {
	srv := mototest.Start(t)
	topic, read := srv.TopicWithQueue(t, "keywarden-alerts")
	snsc := sns.NewFromConfig(srv.Config())
	m := msgs(2)
	m[0].Text = "keywarden detect: HIGH CloudTrail logging stopped \u00e9 " + string(make([]byte, 120))
	out := Deliver(context.Background(), Policy{}, []Job{{Target: &SNS{Client: snsc, TopicARN: topic}, Messages: m}})
	if len(out[0].Delivered) != 2 || out[0].Err != nil {
		t.Fatalf("outcome %+v", out[0])
	}
	got := read()
	if len(got) != 2 {
		t.Fatalf("got %d messages from the queue, want 2", len(got))
	}
	want := map[string]bool{string(m[0].Body): true, string(m[1].Body): true}
	for _, g := range got {
		if !want[g.Message] {
			t.Errorf("message %q was not published", g.Message)
		}
		if len(g.Subject) > maxSubject {
			t.Errorf("subject of %d bytes, SNS takes %d", len(g.Subject), maxSubject)
		}
	}

	// A topic that does not exist is a permanent failure: one attempt.
	gone := &SNS{Client: snsc, TopicARN: "arn:aws:sns:us-east-1:" + mototest.Account + ":nope"}
	out = Deliver(context.Background(), Policy{Sleep: (&notifytest.Sleeper{}).Sleep}, []Job{{Target: gone, Messages: msgs(2)}})
	if out[0].Attempts != 1 || out[0].Failed != 1 || out[0].Skipped != 1 {
		t.Errorf("outcome %+v, want one attempt, the rest skipped", out[0])
	}
}

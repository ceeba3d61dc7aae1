package notify

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/keywarden/keywarden/internal/mototest"
)

// TestSNSMoto publishes to a topic on moto_server and reads the message
// back from an SQS queue subscribed to it.
func TestSNSMoto(t *testing.T) {
	srv := mototest.Start(t)
	cfg := srv.Config()
	ctx := context.Background()
	snsc := sns.NewFromConfig(cfg)
	sqsc := sqs.NewFromConfig(cfg)
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keywarden-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("oncall")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}

	m := msgs(2)
	m[0].Text = "keywarden detect: HIGH CloudTrail logging stopped \u00e9 " + string(make([]byte, 120))
	target := &SNS{Client: snsc, TopicARN: aws.ToString(topic.TopicArn)}
	out := Deliver(ctx, Policy{}, []Job{{Target: target, Messages: m}})
	if len(out[0].Delivered) != 2 || out[0].Err != nil {
		t.Fatalf("outcome %+v", out[0])
	}
	var got []string
	for len(got) < 2 {
		r, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			t.Fatalf("got %d messages from the queue, want 2", len(got))
		}
		for _, sm := range r.Messages {
			var env struct{ Type, Message, Subject string }
			if err := json.Unmarshal([]byte(aws.ToString(sm.Body)), &env); err != nil {
				t.Fatal(err)
			}
			if env.Type != "Notification" {
				t.Errorf("envelope type %q", env.Type)
			}
			if len(env.Subject) > 100 {
				t.Errorf("subject of %d bytes, SNS takes 100", len(env.Subject))
			}
			got = append(got, env.Message)
		}
	}
	want := map[string]bool{string(m[0].Body): true, string(m[1].Body): true}
	for _, g := range got {
		if !want[g] {
			t.Errorf("message %q was not published", g)
		}
	}

	// A topic that does not exist is a permanent failure: one attempt.
	gone := &SNS{Client: snsc, TopicARN: "arn:aws:sns:us-east-1:" + mototest.Account + ":nope"}
	out = Deliver(ctx, Policy{Sleep: (&fakeSleep{}).sleep}, []Job{{Target: gone, Messages: msgs(2)}})
	if out[0].Attempts != 1 || out[0].Failed != 1 || out[0].Skipped != 1 {
		t.Errorf("outcome %+v, want one attempt, the rest skipped", out[0])
	}
}

package mototest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Published is an SNS message as an SQS subscriber receives it.
type Published struct {
	Subject string
	Message string
}

// TopicWithQueue creates an SNS topic with an SQS queue subscribed to it,
// so a test can read back what was published. read returns the messages
// waiting on the queue (at most 10, waiting up to a second for the first).
func (s *Server) TopicWithQueue(t testing.TB, name string) (topicARN string, read func() []Published) {
	t.Helper()
	ctx := context.Background()
	snsc, sqsc := sns.NewFromConfig(s.Config()), sqs.NewFromConfig(s.Config())
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-queue")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(topic.TopicArn), func() []Published {
		t.Helper()
		r, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		var out []Published
		for _, m := range r.Messages {
			var env struct{ Type, Subject, Message string }
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil || env.Type != "Notification" {
				t.Fatalf("not an SNS notification (%v): %s", err, aws.ToString(m.Body))
			}
			out = append(out, Published{Subject: env.Subject, Message: env.Message})
		}
		return out
	}
}

package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
)

// SNSAPI is the part of the SNS client SNS uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS publishes each message's Body to a topic, with the summary line as
// the subject (e-mail subscribers see it).
type SNS struct {
	Client   SNSAPI
	TopicARN string
}

// Name is the topic ARN (an identifier, not a secret).
func (s *SNS) Name() string { return "sns:" + s.TopicARN }

// maxSubject is SNS's limit on Subject.
const maxSubject = 100

// Send publishes once. Errors the topic or the request cause (no such
// topic, not allowed, a bad parameter) are permanent.
func (s *SNS) Send(ctx context.Context, m Message) error {
	subject := subjectSafe(m.Text)
	if len(subject) > maxSubject {
		subject = subject[:maxSubject-3] + "..."
	}
	_, err := s.Client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.TopicARN),
		Message:  aws.String(string(m.Body)),
		Subject:  aws.String(subject),
	})
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", s.Name(), err)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "AuthorizationError", "InvalidParameter", "InvalidParameterValue", "InvalidSecurity", "KMSAccessDenied":
			return Permanent(err)
		}
	}
	return err
}

// subjectSafe keeps what SNS accepts in a subject: printable ASCII, one
// byte per rune.
func subjectSafe(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

package policygen

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keywarden/keywarden/internal/mototest"
)

// The generated documents pass the IAM policy validator of the emulator
// (moto's port of AWS's checks) and come back unchanged; a malformed one
// is refused, so the check can fail.
func TestDocumentsAcceptedByIAM(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(srv.Config())
	for _, v := range variants {
		s := build(t, v.opts)
		doc, err := JSON(s)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(s.PolicyName + "-" + v.name), PolicyDocument: aws.String(string(doc))})
		if err != nil {
			t.Fatalf("%s: CreatePolicy: %v", v.name, err)
		}
		ver, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: out.Policy.Arn, VersionId: out.Policy.DefaultVersionId})
		if err != nil {
			t.Fatal(err)
		}
		got, err := url.QueryUnescape(aws.ToString(ver.PolicyVersion.Document))
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal([]byte(got), &a); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(doc, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: document changed on the way:\n%s", v.name, got)
		}
	}
	bad := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolEquals":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	if _, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(bad)}); err == nil {
		t.Error("the emulator accepted an unknown operator: the check above proves nothing")
	}
}

package mototest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestStartAnswersSTS(t *testing.T) {
	s := Start(t)
	out, err := sts.NewFromConfig(s.Config()).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Account == nil || *out.Account != Account {
		t.Fatalf("account = %v", out.Account)
	}
}

package respond

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// rootIAM answers like IAM for a root user's key (moto cannot make one):
// the last use names "root", and no IAM user has that name. Any other
// call fails the test through the nil embedded interface.
type rootIAM struct {
	IAMAPI
}

func (rootIAM) GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	return &iam.GetAccessKeyLastUsedOutput{UserName: aws.String("root"), AccessKeyLastUsed: &iamtypes.AccessKeyLastUsed{ServiceName: aws.String("N/A"), Region: aws.String("N/A")}}, nil
}

func (rootIAM) GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	return nil, &iamtypes.NoSuchEntityException{Message: aws.String("The user with name root cannot be found.")}
}

type fixedSTS struct{}

func (fixedSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"), Arn: aws.String("arn:aws:iam::123456789012:user/responder")}, nil
}

func TestRunRootKey(t *testing.T) {
	rep, err := Run(context.Background(), Clients{IAM: rootIAM{}, STS: fixedSTS{}}, leaked, Options{Logs: &Logs{}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identity.Root || len(rep.Steps) != 0 || !strings.Contains(rep.Stopped, "root user's key") {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(strings.Join(rep.ToDo, "\n"), "make "+leaked+" inactive") {
		t.Errorf("to do %q", rep.ToDo)
	}
	if !Incomplete(rep) {
		t.Error("a root key is not contained by respond, yet the report is complete")
	}
}

package inventory

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// fakeIAM answers the loader's calls from memory; a nil method result
// means "not used by this test".
type fakeIAM struct {
	IAMAPI
	reportErr   error
	reportCalls int
	generated   int
}

func (f *fakeIAM) GenerateCredentialReport(context.Context, *iam.GenerateCredentialReportInput, ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	f.generated++
	return &iam.GenerateCredentialReportOutput{State: iamtypes.ReportStateTypeStarted}, nil
}

func (f *fakeIAM) GetAccountAuthorizationDetails(context.Context, *iam.GetAccountAuthorizationDetailsInput, ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	doc := "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
	return &iam.GetAccountAuthorizationDetailsOutput{UserDetailList: []iamtypes.UserDetail{{UserName: aws.String("u"), Arn: aws.String("arn:aws:iam::111122223333:user/u"),
		UserPolicyList: []iamtypes.PolicyDetail{{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}}}}}, nil
}

func (f *fakeIAM) GetCredentialReport(context.Context, *iam.GetCredentialReportInput, ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	f.reportCalls++
	return nil, f.reportErr
}

func TestReportTimeout(t *testing.T) {
	f := &fakeIAM{reportErr: &iamtypes.CredentialReportNotReadyException{Message: aws.String("in progress")}}
	start := time.Now()
	_, err := Load(context.Background(), f, nil, LiveOptions{ReportTimeout: 150 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not ready after 150ms") || !strings.Contains(err.Error(), "--credential-report") {
		t.Fatalf("err = %v", err)
	}
	if f.reportCalls < 3 || time.Since(start) > 5*time.Second {
		t.Errorf("%d polls in %v", f.reportCalls, time.Since(start))
	}
}

func TestReportRegeneratedWhenExpired(t *testing.T) {
	f := &fakeIAM{reportErr: &iamtypes.CredentialReportExpiredException{Message: aws.String("expired")}}
	_, _ = Load(context.Background(), f, nil, LiveOptions{ReportTimeout: 60 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if f.generated < 2 {
		t.Errorf("an expired report was not regenerated (%d generations)", f.generated)
	}
}

// iamServer is an httptest IAM endpoint (the query protocol) whose handler
// the test chooses.
func iamServer(t *testing.T, h http.HandlerFunc) *iam.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return NewIAMClient(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLEEXAMPLE12", "secret", "")})
}

func iamError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>` + code +
		`</Code><Message>` + msg + `</Message></Error><RequestId>r</RequestId></ErrorResponse>`))
}

func TestAccessDeniedNamesThePermission(t *testing.T) {
	c := iamServer(t, func(w http.ResponseWriter, r *http.Request) {
		iamError(w, 403, "AccessDenied", "User: arn:aws:iam::111122223333:user/x is not authorized to perform: iam:GenerateCredentialReport")
	})
	_, err := Load(context.Background(), c, nil, LiveOptions{})
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Action != "iam:GenerateCredentialReport" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "--print-required-policy") {
		t.Errorf("message does not say how to fix it: %v", err)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	var calls atomic.Int32
	c := iamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			iamError(w, 400, "Throttling", "Rate exceeded")
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<GetAccountSummaryResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetAccountSummaryResult><SummaryMap>` +
			`<entry><key>Users</key><value>7</value></entry></SummaryMap></GetAccountSummaryResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetAccountSummaryResponse>`))
	})
	out, err := c.GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{})
	if err != nil || out.SummaryMap["Users"] != 7 || calls.Load() != 3 {
		t.Fatalf("summary %v, err %v after %d calls", out, err, calls.Load())
	}
}

func TestRequiredPolicy(t *testing.T) {
	b, err := RequiredPolicy().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range RequiredActions {
		if !strings.Contains(string(b), `"`+a+`"`) {
			t.Errorf("policy lacks %s", a)
		}
		if !strings.HasPrefix(a, "iam:Get") && !strings.HasPrefix(a, "iam:List") && a != "iam:GenerateCredentialReport" {
			t.Errorf("%s is not read-only", a)
		}
	}
}

// A 403 whose body the SDK cannot decode (moto_server answers IAM with an
// <Errors><Error> envelope; proxies answer with HTML) is still a refusal:
// it must name the permission, not print "UnknownError".
func TestUndecodable403NamesThePermission(t *testing.T) {
	c := iamServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(403)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>denied</Message><Type>Sender</Type></Error></Errors></ErrorResponse>`))
	})
	_, err := Load(context.Background(), c, nil, LiveOptions{})
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Action != "iam:GenerateCredentialReport" {
		t.Fatalf("err = %v, want access denied to iam:GenerateCredentialReport", err)
	}
}

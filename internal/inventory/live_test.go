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

// fakeClock advances only when the code under test sleeps, so the number
// of polls is the same on an idle and on a loaded machine.
type fakeClock struct {
	now    time.Time
	sleeps int
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps++
	c.now = c.now.Add(d)
	return nil
}

func TestReportTimeout(t *testing.T) {
	f := &fakeIAM{reportErr: &iamtypes.CredentialReportNotReadyException{Message: aws.String("in progress")}}
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, err := Load(context.Background(), f, nil, LiveOptions{ReportTimeout: 150 * time.Millisecond, PollInterval: 20 * time.Millisecond, clock: clock})
	if err == nil || !strings.Contains(err.Error(), "not ready after 150ms") || !strings.Contains(err.Error(), "--credential-report") {
		t.Fatalf("err = %v", err)
	}
	// 150 ms of 20 ms waits: polls at 0, 20, ..., 140 and a last one at
	// 150 after a shortened wait: nine in all, and never a wait past the
	// deadline.
	if f.reportCalls != 9 || clock.sleeps != 8 {
		t.Errorf("%d polls and %d waits, want 9 and 8", f.reportCalls, clock.sleeps)
	}
}

func TestReportWaitStopsOnCancel(t *testing.T) {
	f := &fakeIAM{reportErr: &iamtypes.CredentialReportNotReadyException{Message: aws.String("in progress")}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, f, nil, LiveOptions{clock: &fakeClock{}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestReportRegeneratedWhenExpired(t *testing.T) {
	f := &fakeIAM{reportErr: &iamtypes.CredentialReportExpiredException{Message: aws.String("expired")}}
	_, _ = Load(context.Background(), f, nil, LiveOptions{ReportTimeout: 60 * time.Millisecond, PollInterval: 20 * time.Millisecond, clock: &fakeClock{}})
	if f.generated != 5 {
		t.Errorf("an expired report was not regenerated (%d generations, want one at the start and one for each of the 4 expired answers)", f.generated)
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

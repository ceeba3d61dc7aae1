package inventory

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/mototest"
)

// actionRecorder notes the service:Action of every request the SDK sends
// (the query protocol puts Action in the form body, the service in the
// SigV4 credential scope).
type actionRecorder struct {
	mu   sync.Mutex
	seen map[string]bool
}

var scopeService = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

func (r *actionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	svc := "?"
	if m := scopeService.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		svc = m[1]
	}
	r.mu.Lock()
	r.seen[svc+":"+form.Get("Action")] = true
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// The printed policy must be sufficient (every call the live loader makes
// is in it) and minimal (nothing in it goes unused): a user who attaches it
// must not meet an AccessDenied, and must not grant more than the audit
// needs. Checked on the wire against moto, with a user that has a key and
// an MFA device so that every per-user call happens.
func TestRequiredPolicyMatchesTheCallsMade(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	setup := iam.NewFromConfig(srv.Config())
	if _, err := setup.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("u")}); err != nil {
		t.Fatal(err)
	}
	dev, err := setup.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("u")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("u"), SerialNumber: dev.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}); err != nil {
		t.Fatal(err)
	}

	rec := &actionRecorder{seen: map[string]bool{}}
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: rec}
	if _, err := Load(ctx, NewIAMClient(cfg), sts.NewFromConfig(cfg), LiveOptions{PollInterval: 50 * time.Millisecond, ReportTimeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var called []string
	for a := range rec.seen {
		if a == "sts:GetCallerIdentity" { // needs no permission
			continue
		}
		called = append(called, a)
	}
	sort.Strings(called)
	want := append([]string(nil), RequiredActions...)
	sort.Strings(want)
	// IAM action names are case-insensitive; the wire says "iam".
	if !strings.EqualFold(strings.Join(called, ","), strings.Join(want, ",")) {
		t.Errorf("the loader called %v\nthe printed policy grants %v", called, want)
	}
}

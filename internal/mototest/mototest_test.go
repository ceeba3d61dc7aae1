package mototest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
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

// A port another server took between choosing it and starting moto on it
// must not be mistaken for ours: launch fails, so Start tries another.
func TestLaunchRefusesAnotherServersPort(t *testing.T) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server not found on PATH")
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()
	port := other.Listener.Addr().(*net.TCPAddr).Port
	if s, err := launch(t, bin, port); err == nil {
		t.Fatalf("launch on a port another server holds returned %s", s.URL)
	}
}

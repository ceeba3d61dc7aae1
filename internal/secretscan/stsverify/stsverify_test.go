package stsverify

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/mototest"
)

func genPair(t *testing.T, account uint64, seed byte) (string, string) {
	t.Helper()
	r := rand.NewChaCha8([32]byte{seed})
	id, err := awskey.NewID("AKIA", account, r)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := awskey.NewSecret(r)
	if err != nil {
		t.Fatal(err)
	}
	return id, secret
}

// moto accepts any key, so it stands for a live one.
func TestVerifyLiveMoto(t *testing.T) {
	srv := mototest.Start(t)
	id, secret := genPair(t, 123456789012, 1)
	v := &Verifier{Endpoint: srv.URL, Timeout: 20 * time.Second}
	got := v.Verify(context.Background(), id, secret, "")
	if got.Status != Live || !strings.HasPrefix(got.ARN, "arn:aws:") || got.Account == "" {
		t.Fatalf("verdict = %+v", got)
	}
}

// stsError answers every request with STS's error document.
func stsError(code string, hits *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") {
			http.Error(w, "unsigned", 400)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(403)
		w.Write([]byte(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>` + code + `</Code><Message>The security token included in the request is invalid.</Message></Error>
  <RequestId>4b0f8a1e-0000-4000-8000-000000000000</RequestId>
</ErrorResponse>`))
	}))
}

func TestVerifyErrors(t *testing.T) {
	for _, tt := range []struct {
		code string
		want Status
	}{
		{"InvalidClientTokenId", Revoked},
		{"ExpiredToken", Revoked},
		{"SignatureDoesNotMatch", Invalid},
		{"Throttling", Error},
	} {
		t.Run(tt.code, func(t *testing.T) {
			var hits atomic.Int32
			srv := stsError(tt.code, &hits)
			defer srv.Close()
			id, secret := genPair(t, 123456789012, 2)
			v := &Verifier{Endpoint: srv.URL, Timeout: 5 * time.Second}
			got := v.Verify(context.Background(), id, secret, "")
			if got.Status != tt.want || got.Detail != tt.code {
				t.Errorf("verdict = %+v, want %s", got, tt.want)
			}
			if strings.Contains(got.Detail, secret) {
				t.Error("detail holds the secret")
			}
			// The same pair is asked once.
			v.Verify(context.Background(), id, secret, "")
			if hits.Load() != 1 {
				t.Errorf("%d requests, want 1", hits.Load())
			}
		})
	}
}

func TestVerifyCanaryRefused(t *testing.T) {
	var hits atomic.Int32
	srv := stsError("InvalidClientTokenId", &hits)
	defer srv.Close()
	id, secret := genPair(t, 717712589309, 3)
	v := &Verifier{Endpoint: srv.URL}
	if got := v.Verify(context.Background(), id, secret, ""); got.Status != Canary || got.Account != "717712589309" {
		t.Errorf("verdict = %+v", got)
	}
	if hits.Load() != 0 {
		t.Fatal("a canary key was sent")
	}
	v.AllowCanaries = true
	if got := v.Verify(context.Background(), id, secret, ""); got.Status != Revoked || hits.Load() != 1 {
		t.Errorf("with AllowCanaries: %+v, %d requests", got, hits.Load())
	}
}

func TestVerifySkipsWhatCannotSign(t *testing.T) {
	var hits atomic.Int32
	srv := stsError("InvalidClientTokenId", &hits)
	defer srv.Close()
	r := rand.NewChaCha8([32]byte{5})
	asia, _ := awskey.NewID("ASIA", 123456789012, r)
	abia, _ := awskey.NewID("ABIA", 123456789012, r)
	secret, _ := awskey.NewSecret(r)
	v := &Verifier{Endpoint: srv.URL}
	for _, id := range []string{asia, abia} {
		if got := v.Verify(context.Background(), id, secret, ""); got.Status != Skipped {
			t.Errorf("%s: %+v", id[:4], got)
		}
	}
	if got := v.Verify(context.Background(), asia, secret, strings.Repeat("IQoJb3JpZ2lu", 20)); got.Status != Revoked || hits.Load() != 1 {
		t.Errorf("ASIA with a token: %+v, %d requests", got, hits.Load())
	}
}

func TestVerifyTimeoutAndRate(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	id, secret := genPair(t, 123456789012, 4)
	v := &Verifier{Endpoint: srv.URL, Timeout: 200 * time.Millisecond}
	start := time.Now()
	got := v.Verify(context.Background(), id, secret, "")
	if got.Status != Error || time.Since(start) > 5*time.Second {
		t.Errorf("verdict = %+v after %s", got, time.Since(start))
	}

	var hits atomic.Int32
	fast := stsError("InvalidClientTokenId", &hits)
	defer fast.Close()
	v = &Verifier{Endpoint: fast.URL, Interval: 150 * time.Millisecond}
	start = time.Now()
	for i := byte(0); i < 3; i++ {
		id, secret := genPair(t, 123456789012, 10+i)
		v.Verify(context.Background(), id, secret, "")
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("3 requests in %s with a 150ms interval", el)
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keywarden/keywarden/internal/mototest"
)

// motoFederation sits in front of moto_server: it passes STS calls
// through, records the temporary credentials moto issues
// (GetFederationToken, AssumeRole) with the identity moto names in the
// answer, and is the federation endpoint: getSigninToken accepts a
// session only when it is exactly one moto issued.
type motoFederation struct {
	mu     sync.Mutex
	issued map[string]motoIssued // access key ID -> what moto issued
	arns   map[string]motoSignin // sign-in token -> what it signs in
}

type motoSignin struct{ arn, duration string }

type motoIssued struct{ secret, token, arn string }

func newMotoFederation(t *testing.T, moto string) (*motoFederation, string) {
	target, err := url.Parse(moto)
	if err != nil {
		t.Fatal(err)
	}
	f := &motoFederation{issued: map[string]motoIssued{}, arns: map[string]motoSignin{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var out struct {
			Result struct {
				Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken string }
				FederatedUser   struct{ Arn string }
				AssumedRoleUser struct{ Arn string }
			} `xml:",any"`
		}
		if xml.Unmarshal(body, &out) == nil && out.Result.Credentials.AccessKeyId != "" {
			c := out.Result.Credentials
			f.mu.Lock()
			f.issued[c.AccessKeyId] = motoIssued{c.SecretAccessKey, c.SessionToken, out.Result.FederatedUser.Arn + out.Result.AssumedRoleUser.Arn}
			f.mu.Unlock()
		}
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/federation", f)
	mux.Handle("/", proxy)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *motoFederation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var sess struct {
		ID    string `json:"sessionId"`
		Key   string `json:"sessionKey"`
		Token string `json:"sessionToken"`
	}
	if q.Get("Action") != "getSigninToken" || json.Unmarshal([]byte(q.Get("Session")), &sess) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	is, ok := f.issued[sess.ID]
	if !ok || is.secret != sess.Key || is.token != sess.Token || is.arn == "" {
		http.Error(w, "invalid credentials", http.StatusBadRequest)
		return
	}
	tok := fmt.Sprintf("moto-signin-%d", len(f.arns)+1)
	f.arns[tok] = motoSignin{is.arn, q.Get("SessionDuration")}
	_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": tok})
}

// TestLoginMoto: login --stdout with STS from moto_server, for an IAM
// user's key with MFA (GetFederationToken, signed with the long-term key
// after the MFA session) and for a role profile (AssumeRole); the
// federation endpoint accepts each URL's session because moto issued it.
func TestLoginMoto(t *testing.T) {
	m := mototest.Start(t)
	admin, keyID, secret := vaultMotoAlice(t, m)
	ctx := context.Background()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + mototest.Account + `:root"},"Action":"sts:AssumeRole"}]}`
	if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Ops"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	fed, front := newMotoFederation(t, m.URL)

	vaultNoTerminal(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	config := "[profile alice]\nregion = us-east-1\nmfa_serial = arn:aws:iam::" + mototest.Account + ":mfa/alice\n" +
		"[profile ops]\nsource_profile = alice\nrole_arn = arn:aws:iam::" + mototest.Account + ":role/Ops\n"
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &vaultHarness{t: t, now: time.Now(), env: map[string]string{
		"HOME": dir, "KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": filepath.Join(dir, "store"), "KEYWARDEN_FILE_PASSPHRASE": "pw",
		"AWS_CONFIG_FILE": cfg, "AWS_ENDPOINT_URL": front, "KEYWARDEN_FEDERATION_URL": front + "/federation",
		"XDG_RUNTIME_DIR": dir,
	}}
	if _, errOut, code := h.run(keyID+"\n"+secret+"\n", "add", "alice", "--stdin"); code != 0 {
		t.Fatalf("add (verified by moto): %s", errOut)
	}
	for _, tc := range []struct {
		args     []string
		arn      string
		stderr   string
		duration string
	}{
		{args: []string{"login", "alice", "--stdout", "--mfa-token", "123456"}, arn: ":federated-user/", stderr: "WITHOUT MFA"},
		{args: []string{"login", "ops", "--stdout", "--duration", "1h"}, arn: ":assumed-role/Ops/", duration: "3600"},
	} {
		u, out := loginStdout(t, h, tc.args, tc.stderr)
		fed.mu.Lock()
		got, ok := fed.arns[u.Query().Get("SigninToken")]
		fed.mu.Unlock()
		if !ok || !strings.Contains(got.arn, "arn:aws:sts::"+mototest.Account+tc.arn) || got.duration != tc.duration ||
			!strings.HasPrefix(out, front+"/federation?") || u.Query().Get("Action") != "login" {
			t.Errorf("%v: URL %s stands for %+v (%v)", tc.args, out, got, ok)
		}
	}
	if strings.Contains(h.outAll.String(), secret) {
		t.Fatal("the long-term secret was printed")
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/rogpeppe/go-internal/testscript"
)

// motoCond answers [moto]: moto_server is on PATH.
func motoCond() bool {
	_, err := exec.LookPath("moto_server")
	return err == nil
}

// motoCmds are the script commands for the emulator. One moto_server is
// started (lazily, for the first script that asks) and shared: scripts
// use their own user names.
//
//	moto                  point AWS_* at the emulator
//	motokey USER VAR FILE create USER (admin inline policy) and a key; the
//	                      key ID goes in $VAR, the pair in FILE as an
//	                      AWS credentials file would hold it
//	envsubst IN OUT       copy IN to OUT, replacing $VAR and ${VAR}
func motoCmds(t *testing.T) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	var once sync.Once
	var srv *mototest.Server
	start := func() *mototest.Server {
		once.Do(func() { srv = mototest.Start(t) })
		return srv
	}
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"moto": func(ts *testscript.TestScript, neg bool, args []string) {
			for _, kv := range start().Env() {
				k, v, _ := strings.Cut(kv, "=")
				ts.Setenv(k, v)
			}
		},
		"motokey": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 3 {
				ts.Fatalf("usage: motokey USER VAR FILE")
			}
			ctx := context.Background()
			c := iam.NewFromConfig(start().Config())
			user := aws.String(args[0])
			if _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: user}); err != nil {
				_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: user})
				ts.Check(err)
				_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("admin"),
					PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
				ts.Check(err)
			}
			k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
			ts.Check(err)
			ts.Setenv(args[1], *k.AccessKey.AccessKeyId)
			body := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey)
			ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(body), 0o600))
		},
		"envsubst": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: envsubst IN OUT")
			}
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(os.Expand(ts.ReadFile(args[0]), ts.Getenv)), 0o600))
		},
	}
}

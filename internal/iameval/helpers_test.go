package iameval

import (
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

func mustPolicy(t testing.TB, name, doc string) *iampolicy.Policy {
	t.Helper()
	p, err := iampolicy.Parse(name, []byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

const allowAll = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`

const aliceARN = "arn:aws:iam::111122223333:user/alice"

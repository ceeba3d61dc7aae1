package vault

import (
	"testing"
	"time"
)

func TestVaultRemoveProfileTakesItsSessions(t *testing.T) {
	v := &Vault{Store: NewMemStore()}
	_ = v.SetKey("work", &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret})
	_ = v.SetKey("other", &Key{AccessKeyID: "AKIAY34FZKBOKMUTVV7B", SecretAccessKey: testSecret})
	exp := time.Now().Add(time.Hour)
	for _, s := range []*Session{
		{Kind: "session", Profile: "work", SourceKeyID: testKeyID, Credentials: Credentials{Expiration: exp}},
		{Kind: "role", Profile: "admin", SourceKeyID: testKeyID, Credentials: Credentials{Expiration: exp}},
		{Kind: "role", Profile: "elsewhere", SourceKeyID: "AKIAY34FZKBOKMUTVV7B", Credentials: Credentials{Expiration: exp}},
	} {
		if err := v.SetSession(s); err != nil {
			t.Fatal(err)
		}
	}
	found, err := v.RemoveProfile("work")
	if err != nil || !found {
		t.Fatalf("RemoveProfile: %v %v", found, err)
	}
	names, _ := v.Store.Keys()
	if len(names) != 2 || names[0] != "key:other" || names[1] != "role:elsewhere" {
		t.Fatalf("left: %v", names)
	}
	if found, err := v.RemoveProfile("work"); found || err != nil {
		t.Fatalf("second remove: %v %v", found, err)
	}
}

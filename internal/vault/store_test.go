package vault

import (
	"strings"
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

// Pending rotations round-trip, are listed apart from keys and sessions,
// and a damaged one is an error naming the profile, never a silent miss:
// it may hold the only copy of a key.
func TestVaultRotations(t *testing.T) {
	v := &Vault{Store: NewMemStore()}
	_ = v.SetKey("work", &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret})
	for _, p := range []string{"zeta", "work"} {
		rec := &PendingRotation{Profile: p, User: "alice", Old: Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
			New: &Key{AccessKeyID: "AKIAY34FZKBOKMUTVV7B", SecretAccessKey: testSecret}}
		if err := v.SetRotation(rec); err != nil {
			t.Fatal(err)
		}
	}
	got, err := v.Rotations()
	if err != nil || len(got) != 2 || got[0].Profile != "work" || got[1].Profile != "zeta" || got[0].New.SecretAccessKey != testSecret {
		t.Fatalf("Rotations = %+v, %v", got, err)
	}
	if names, _ := v.KeyNames(); len(names) != 1 || names[0] != "work" {
		t.Fatalf("KeyNames = %v", names)
	}
	if s, _ := v.Sessions(); len(s) != 0 {
		t.Fatalf("Sessions = %v", s)
	}
	if err := v.RemoveRotation("zeta"); err != nil {
		t.Fatal(err)
	}
	if err := v.RemoveRotation("zeta"); err != nil {
		t.Fatalf("removing a missing record: %v", err)
	}
	if r, err := v.GetRotation("zeta"); r != nil || err != nil {
		t.Fatalf("removed record: %+v %v", r, err)
	}
	for _, bad := range []string{"{", `{"profile":"work"}`, "null"} {
		_ = v.Store.Set(rotationPrefix+"work", []byte(bad))
		if _, err := v.GetRotation("work"); err == nil || !strings.Contains(err.Error(), `profile "work" is damaged`) {
			t.Errorf("%s: %v", bad, err)
		}
		if _, err := v.Rotations(); err == nil {
			t.Errorf("%s: Rotations hid the damaged record", bad)
		}
	}
}

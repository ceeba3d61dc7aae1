package awskey

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestInspect(t *testing.T) {
	tests := []struct {
		id         string
		kind       Kind
		wellFormed bool
		credential bool
		account    string
		example    bool
	}{
		// AWS's own documentation examples; the old AKIAI form carries no account.
		{"AKIAIOSFODNN7EXAMPLE", KindLongTerm, true, true, "", true},
		// Published in AWS's blog on account IDs in key IDs: ASIAY34FZKBOKMUTVV7A -> 609629065308.
		{"ASIAY34FZKBOKMUTVV7A", KindTemporary, true, true, "609629065308", false},
		{"AIDAJQABLZS4A3QDU576Q", KindUser, false, false, "", false}, // 21 chars
		{"AIDAJQABLZS4A3QDU576", KindUser, true, false, "", false},
		{"AROAY34FZKBOKMUTVV7A", KindRole, true, false, "609629065308", false},
		{"AKIA1234567890123456", KindLongTerm, false, true, "", false}, // 0,1,8,9 not base32
		{"ZZZZY34FZKBOKMUTVV7A", KindUnknown, false, false, "", false},
		{"AKIA", KindLongTerm, false, true, "", false},
		{"", KindUnknown, false, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got := Inspect(tt.id)
			if got.Kind != tt.kind || got.WellFormed != tt.wellFormed || got.Credential != tt.credential ||
				got.Account != tt.account || got.Example != tt.example {
				t.Errorf("Inspect(%q) = %+v", tt.id, got)
			}
			if !got.WellFormed && got.Problem == "" {
				t.Errorf("malformed %q has no problem text", tt.id)
			}
		})
	}
}

func TestNewIDRoundTrip(t *testing.T) {
	r := rand.NewChaCha8([32]byte{1})
	for _, acct := range []uint64{0, 1, 123456789012, 999999999999, 609629065308} {
		for _, p := range CredentialPrefixes {
			id, err := NewID(p, acct, r)
			if err != nil {
				t.Fatal(err)
			}
			if !ValidCredentialID(id) {
				t.Fatalf("NewID made invalid %q", id)
			}
			if id[4] == 'I' || id[4] == 'J' {
				// Such IDs are read as old-style; the generator must not make them
				// for accounts whose top bits would need it.
				t.Fatalf("NewID(%d) produced legacy-looking %q", acct, id)
			}
			got, ok := AccountID(id)
			want := fmtAccount(acct)
			if !ok || got != want {
				t.Fatalf("AccountID(%q) = %q, %v; want %q", id, got, ok, want)
			}
		}
	}
	if _, err := NewID("AXXA", 1, r); err == nil {
		t.Error("NewID accepted an unknown prefix")
	}
	if _, err := NewID("AKIA", 1e12, r); err == nil {
		t.Error("NewID accepted a 13-digit account")
	}
}

func fmtAccount(n uint64) string {
	b := []byte("000000000000")
	for i := 11; n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}

func TestNewSecret(t *testing.T) {
	s, err := NewSecret(bytes.NewReader(bytes.Repeat([]byte{7, 200, 63, 64}, 10)))
	if err != nil || !LooksLikeSecret(s) {
		t.Fatalf("NewSecret = %q, %v", s, err)
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"AKIAIOSFODNN7EXAMPLE":                     "AKIA************MPLE",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "wJal********************************EKEY",
		"short": "*****",
		"":      "",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactTail("AKIAIOSFODNN7EXAMPLE"); got != "****************MPLE" {
		t.Errorf("RedactTail = %q", got)
	}
}

func TestLooksLikeSecret(t *testing.T) {
	if !LooksLikeSecret(ExampleSecret) || !IsExampleSecret(ExampleSecret) {
		t.Error("example secret not recognised")
	}
	for _, s := range []string{"", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE", "wJalrXUtnFEMI-K7MDENG/bPxRfiCYEXAMPLEKEY"} {
		if LooksLikeSecret(s) {
			t.Errorf("LooksLikeSecret(%q) = true", s)
		}
	}
}

func FuzzInspect(f *testing.F) {
	for _, s := range []string{"AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A", "", "AKIA\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Inspect(s)
		if r.WellFormed != Valid(s) {
			t.Fatalf("Inspect and Valid disagree on %q", s)
		}
		_ = Redact(s)
	})
}

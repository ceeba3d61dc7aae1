package inventory

import (
	"strings"
	"testing"
)

func TestParsePasswordPolicy(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    PasswordPolicy
		wantErr string
	}{
		{"aws cli output", `{"PasswordPolicy": {"MinimumPasswordLength": 14, "RequireSymbols": true, "RequireNumbers": true,
			"RequireUppercaseCharacters": true, "RequireLowercaseCharacters": false, "AllowUsersToChangePassword": true,
			"ExpirePasswords": true, "MaxPasswordAge": 90, "PasswordReusePrevention": 24, "HardExpiry": false}}`,
			PasswordPolicy{Exists: true, MinimumPasswordLength: 14, RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true,
				ExpirePasswords: true, MaxPasswordAge: 90, PasswordReusePrevention: 24}, ""},
		{"bare object", `{"MinimumPasswordLength": 8}`, PasswordPolicy{Exists: true, MinimumPasswordLength: 8}, ""},
		{"no policy (null)", `{"PasswordPolicy": null}`, PasswordPolicy{}, ""},
		{"no policy (empty)", `{}`, PasswordPolicy{}, ""},
		{"truncated", "{\"PasswordPolicy\": {\n\"MinimumPasswordLength\": 1", PasswordPolicy{}, "p.json:2:"},
		{"wrong type", "{\"PasswordPolicy\": {\"MinimumPasswordLength\": \"14\"}}", PasswordPolicy{}, "p.json: the password policy:"},
		{"negative", `{"MinimumPasswordLength": -1}`, PasswordPolicy{}, "negative"},
		{"too large", `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, PasswordPolicy{}, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePasswordPolicy("p.json", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || *got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzParsePasswordPolicy(f *testing.F) {
	f.Add([]byte(`{"PasswordPolicy": {"MinimumPasswordLength": 14, "RequireSymbols": true, "MaxPasswordAge": 90}}`))
	f.Add([]byte(`{"PasswordPolicy": null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePasswordPolicy("fuzz", data)
		if err == nil && (p.MinimumPasswordLength < 0 || p.MaxPasswordAge < 0 || p.PasswordReusePrevention < 0) {
			t.Errorf("accepted negative numbers: %+v", p)
		}
	})
}

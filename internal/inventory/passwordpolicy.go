package inventory

import (
	"encoding/json"
	"fmt"
)

// PasswordPolicy is the account's IAM password policy
// (GetAccountPasswordPolicy). Exists is false when the account has none:
// AWS then applies its default (8 characters, no other rule).
type PasswordPolicy struct {
	Exists                     bool `json:"-"`
	MinimumPasswordLength      int
	RequireSymbols             bool
	RequireNumbers             bool
	RequireUppercaseCharacters bool
	RequireLowercaseCharacters bool
	// MaxPasswordAge is in days; 0 when passwords do not expire.
	MaxPasswordAge int
	// PasswordReusePrevention is how many previous passwords cannot be
	// reused; 0 when reuse is not prevented.
	PasswordReusePrevention int
	ExpirePasswords         bool
	HardExpiry              bool
}

// maxPasswordPolicySize bounds the file: the real document is a few
// hundred bytes.
const maxPasswordPolicySize = 64 << 10

// ParsePasswordPolicy reads the JSON `aws iam get-account-password-policy`
// prints ({"PasswordPolicy": {...}}), or the bare policy object. An empty
// object, or {"PasswordPolicy": null}, means the account has no policy
// (the AWS CLI fails with NoSuchEntity then; an exporter may write that).
// name is used in errors.
func ParsePasswordPolicy(name string, data []byte) (*PasswordPolicy, error) {
	if len(data) > maxPasswordPolicySize {
		return nil, fmt.Errorf("%s: %d bytes is too large for a password policy (the limit is %d)", name, len(data), maxPasswordPolicySize)
	}
	var outer struct {
		PasswordPolicy *json.RawMessage
	}
	if err := json.Unmarshal(data, &outer); err != nil {
		return nil, fmt.Errorf("%s:%s (want the JSON of `aws iam get-account-password-policy`)", name, jsonErr(data, err))
	}
	raw := data
	if outer.PasswordPolicy != nil {
		raw = *outer.PasswordPolicy
	}
	// An object without a single setting is no policy.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%s: the password policy: %s", name, jsonErr(raw, err))
	}
	delete(fields, "PasswordPolicy")
	if len(fields) == 0 {
		return &PasswordPolicy{}, nil
	}
	p := &PasswordPolicy{}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("%s: the password policy: %s", name, jsonErr(raw, err))
	}
	p.Exists = true
	if p.MinimumPasswordLength < 0 || p.MaxPasswordAge < 0 || p.PasswordReusePrevention < 0 {
		return nil, fmt.Errorf("%s: the password policy has a negative number", name)
	}
	return p, nil
}

// SetPasswordPolicy records the account's password policy (read from a
// file or live).
func (a *Account) SetPasswordPolicy(p *PasswordPolicy) {
	a.PasswordPolicy = p
	a.Sources.PasswordPolicy = true
}

package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned by a Store for an item it does not hold.
var ErrNotFound = errors.New("not found in the store")

// Store holds named secret blobs. Implementations never write a blob in
// plain text.
type Store interface {
	Get(name string) ([]byte, error)
	Set(name string, data []byte) error
	Remove(name string) error
	Keys() ([]string, error)
	// Backend names the backend, for messages ("file", "secret-service").
	Backend() string
}

// Item names. The prefix says what the item is; the rest is a profile
// name, and nothing else: no account, user or key ID appears in a name.
const (
	keyPrefix     = "key:"     // the long-term key of a profile
	sessionPrefix = "session:" // a GetSessionToken session made with a profile's key
	rolePrefix    = "role:"    // an AssumeRole session of a role profile
	// rotationPrefix names a rotation in progress (see PendingRotation).
	rotationPrefix = "rotation:"
	// ssoTokenPrefix names an IAM Identity Center sign-in (by sso-session,
	// or legacy profile); ssoRolePrefix the role credentials of an SSO
	// profile.
	ssoTokenPrefix = "ssotoken:"
	ssoRolePrefix  = "ssorole:"
)

// cachePrefixes are the items that only cache what can be got again.
var cachePrefixes = []string{sessionPrefix, rolePrefix, ssoRolePrefix, ssoTokenPrefix}

// Key is a stored long-term access key.
type Key struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	Added           time.Time `json:"added"`
	// Created is when AWS created the key, when known (rotate knows it);
	// the key's age is counted from it, else from Added.
	Created time.Time `json:"created,omitzero"`
	// ARN is the caller identity seen when the key was verified.
	ARN string `json:"arn,omitempty"`
}

// Born is when the key's age starts.
func (k *Key) Born() time.Time {
	if !k.Created.IsZero() {
		return k.Created
	}
	return k.Added
}

// PendingRotation is written to the store before rotate creates a key and
// updated with the new key as soon as IAM returns it, so a rotation killed
// half-way (kill -9, a power cut) never loses the new secret: the next
// rotate finds the record and finishes the rotation or rolls it back.
// It is removed once the rotation has settled.
type PendingRotation struct {
	// Profile holds the key being replaced.
	Profile string `json:"profile"`
	User    string `json:"user"`
	Region  string `json:"region,omitempty"`
	// Old is the key being replaced, whole: once the store holds the new
	// key, this is the only copy of the old one for a rollback.
	Old Key `json:"old"`
	// New is nil until CreateAccessKey has returned.
	New     *Key      `json:"new,omitempty"`
	KeepOld bool      `json:"keep_old"`
	Started time.Time `json:"started"`
}

// Credentials are temporary (or, with an empty SessionToken, long-term)
// AWS credentials.
type Credentials struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token,omitempty"`
	Expiration      time.Time `json:"expiration,omitzero"`
}

// Session is a cached STS session.
type Session struct {
	Credentials
	// Kind is "session" (GetSessionToken) or "role" (AssumeRole).
	Kind string `json:"kind"`
	// Profile is the profile the item is named after.
	Profile string `json:"profile"`
	// MFASerial is the device used, empty for a session without MFA.
	MFASerial string `json:"mfa_serial,omitempty"`
	RoleARN   string `json:"role_arn,omitempty"`
	// SourceKeyID is the long-term key that made the session: a session
	// made with a key since replaced is not reused.
	SourceKeyID string `json:"source_key_id"`
	// Via, for a role session, names the profile whose MFA session
	// (GetSessionToken) the role was assumed with; empty when it was
	// assumed directly from the long-term key.
	Via string `json:"via,omitempty"`
	// Params, for a role session, is a digest of what AssumeRole was
	// asked (role, external ID, session name, tags, source identity,
	// source profile): a session asked for with other settings is not
	// reused when the config changes.
	Params  string    `json:"params,omitempty"`
	Created time.Time `json:"created"`
}

// RefreshBefore is how long before its expiry a cached session stops being
// handed out: a command started with it should not see it expire.
const RefreshBefore = 5 * time.Minute

// Fresh reports whether the session can still be handed out at now.
func (s *Session) Fresh(now time.Time) bool {
	return now.Before(s.Expiration.Add(-RefreshBefore))
}

// Vault is the typed view of a Store.
type Vault struct {
	Store Store
}

// KeyNames returns the profiles that have a stored key, sorted.
func (v *Vault) KeyNames() ([]string, error) { return v.profilesWith(keyPrefix) }

// profilesWith returns the profiles named by items with prefix, sorted.
func (v *Vault) profilesWith(prefix string) ([]string, error) {
	names, err := v.Store.Keys()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if p, ok := strings.CutPrefix(n, prefix); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// GetKey returns the key stored for profile.
func (v *Vault) GetKey(profile string) (*Key, error) {
	data, err := v.Store.Get(keyPrefix + profile)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("no key stored for profile %q (add one with: keywarden add %s): %w", profile, profile, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var k Key
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("the stored item for profile %q is damaged", profile)
	}
	return &k, nil
}

// SetKey stores profile's key.
func (v *Vault) SetKey(profile string, k *Key) error {
	if err := CheckProfileName(profile); err != nil {
		return err
	}
	data, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return v.Store.Set(keyPrefix+profile, data)
}

// RemoveProfile removes profile's key, the sessions cached under its name,
// and every other cached session made with that key (role profiles whose
// source_profile it is). It reports whether a key was there.
func (v *Vault) RemoveProfile(profile string) (bool, error) {
	key, kerr := v.GetKey(profile)
	err := v.Store.Remove(keyPrefix + profile)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if err := v.RemoveSessions(profile); err != nil {
		return found, err
	}
	if kerr == nil {
		sessions, err := v.Sessions()
		if err != nil {
			return found, err
		}
		for _, s := range sessions {
			if s.SourceKeyID == key.AccessKeyID {
				if err := v.Store.Remove(sessionName(s.Kind, s.Profile)); err != nil && !errors.Is(err, ErrNotFound) {
					return found, err
				}
			}
		}
	}
	return found, nil
}

// RemoveSessions forgets the sessions cached under profile's name.
func (v *Vault) RemoveSessions(profile string) error {
	for _, n := range []string{sessionPrefix + profile, rolePrefix + profile, ssoRolePrefix + profile} {
		if err := v.Store.Remove(n); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// ClearSessions forgets cached sessions: those cached under profile's
// name, or every one when profile is empty. Keys are kept. It returns how
// many items it removed.
func (v *Vault) ClearSessions(profile string) (int, error) {
	names, err := v.Store.Keys()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		p, ok := sessionItemProfile(name)
		if !ok || (profile != "" && p != profile) {
			continue
		}
		if err := v.Store.Remove(name); err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// sessionItemProfile returns the profile a cached-session item is named
// after, and whether name is such an item.
func sessionItemProfile(name string) (string, bool) {
	for _, prefix := range cachePrefixes {
		if p, ok := strings.CutPrefix(name, prefix); ok {
			return p, true
		}
	}
	return "", false
}

func sessionName(kind, profile string) string {
	switch kind {
	case "role":
		return rolePrefix + profile
	case "sso":
		return ssoRolePrefix + profile
	}
	return sessionPrefix + profile
}

// GetSession returns a cached session, or nil.
func (v *Vault) GetSession(kind, profile string) (*Session, error) {
	data, err := v.Store.Get(sessionName(kind, profile))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Session
	if json.Unmarshal(data, &s) != nil {
		return nil, nil // a damaged cache entry is just a miss
	}
	return &s, nil
}

// SetSession caches s under its kind and profile.
func (v *Vault) SetSession(s *Session) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return v.Store.Set(sessionName(s.Kind, s.Profile), data)
}

// Sessions returns every cached session, sorted by profile.
func (v *Vault) Sessions() ([]*Session, error) {
	names, err := v.Store.Keys()
	if err != nil {
		return nil, err
	}
	var out []*Session
	for _, n := range names {
		var kind, p string
		if rest, ok := strings.CutPrefix(n, sessionPrefix); ok {
			kind, p = "session", rest
		} else if rest, ok := strings.CutPrefix(n, rolePrefix); ok {
			kind, p = "role", rest
		} else if rest, ok := strings.CutPrefix(n, ssoRolePrefix); ok {
			kind, p = "sso", rest
		} else {
			continue
		}
		s, err := v.GetSession(kind, p)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Profile != out[j].Profile {
			return out[i].Profile < out[j].Profile
		}
		return out[i].Kind < out[j].Kind
	})
	return out, nil
}

// GetRotation returns the rotation of profile's key in progress, or nil.
// A damaged record is an error, not a miss: it may hold the only copy of
// a key.
func (v *Vault) GetRotation(profile string) (*PendingRotation, error) {
	data, err := v.Store.Get(rotationPrefix + profile)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p PendingRotation
	if err := json.Unmarshal(data, &p); err != nil || p.Old.AccessKeyID == "" {
		return nil, fmt.Errorf("the record of an interrupted rotation of profile %q is damaged", profile)
	}
	return &p, nil
}

// SetRotation records p under its profile.
func (v *Vault) SetRotation(p *PendingRotation) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return v.Store.Set(rotationPrefix+p.Profile, data)
}

// RemoveRotation forgets the rotation of profile's key.
func (v *Vault) RemoveRotation(profile string) error {
	if err := v.Store.Remove(rotationPrefix + profile); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// Rotations returns every rotation in progress, sorted by profile.
func (v *Vault) Rotations() ([]*PendingRotation, error) {
	profiles, err := v.profilesWith(rotationPrefix)
	if err != nil {
		return nil, err
	}
	var out []*PendingRotation
	for _, p := range profiles {
		r, err := v.GetRotation(p)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// CheckProfileName refuses names that could not be a profile in
// ~/.aws/config or that would hide in a terminal.
func CheckProfileName(p string) error {
	if p == "" {
		return errors.New("the profile name is empty")
	}
	if len(p) > 128 {
		return errors.New("the profile name is longer than 128 characters")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == ']' || r == '[' {
			return fmt.Errorf("the profile name %q contains a character a profile name cannot have", p)
		}
	}
	return nil
}

// MemStore is a Store in memory, for tests.
type MemStore struct {
	mu    sync.Mutex
	items map[string][]byte
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore { return &MemStore{items: map[string][]byte{}} }

func (m *MemStore) Get(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.items[name]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), d...), nil
}

func (m *MemStore) Set(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[name] = append([]byte(nil), data...)
	return nil
}

func (m *MemStore) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[name]; !ok {
		return ErrNotFound
	}
	delete(m.items, name)
	return nil
}

func (m *MemStore) Keys() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.items))
	for k := range m.items {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (m *MemStore) Backend() string { return "memory" }

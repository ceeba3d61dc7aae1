// Package awsconfig reads the profiles of the AWS CLI's shared config file
// (~/.aws/config, or AWS_CONFIG_FILE) that keywarden's sessions need.
//
// It only reads. The file belongs to the user, who edits it by hand and
// keeps comments and layout in it; keywarden never rewrites it through an
// INI library. The lines are read by internal/awsini, the reader doctor
// and import use too, so that both see the same file; this package turns
// its sections into profiles and sso-sessions and reports the line of a
// setting it cannot use.
package awsconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awsini"
)

// MaxFileSize bounds the config file we are willing to read.
const MaxFileSize = 4 << 20

// Profile is the part of one profile keywarden uses.
type Profile struct {
	Name            string
	MFASerial       string
	RoleARN         string
	SourceProfile   string
	ExternalID      string
	RoleSessionName string
	Duration        time.Duration // duration_seconds; zero when unset
	Region          string
	MFAProcess      string
	// SessionTags are session_tags (key=value,key=value): tags passed to
	// AssumeRole. TransitiveSessionTags (key,key) are the keys among them
	// that pass on to roles chained from this one.
	SessionTags           map[string]string
	TransitiveSessionTags []string
	// SourceIdentity is source_identity, passed to AssumeRole.
	SourceIdentity string
	// MFAPrompt is mfa_prompt: how to ask for a code (see vault.Prompts).
	MFAPrompt string
	// IAM Identity Center: sso_session names an [sso-session NAME]
	// section; the legacy layout has sso_start_url and sso_region in the
	// profile itself. Resolve fills StartURL and region from the session.
	SSOSession   string
	SSOStartURL  string
	SSORegion    string
	SSOAccountID string
	SSORoleName  string
	// CredentialProcess is read only to refuse a profile that has both it
	// and source_profile, as the AWS CLI does.
	CredentialProcess string
	// Line is where the profile's section starts (for error messages).
	Line int
}

// SSOSession is an [sso-session NAME] section.
type SSOSession struct {
	Name               string
	StartURL           string
	Region             string
	RegistrationScopes []string
	Line               int
}

// Config is the set of profiles in a file.
type Config struct {
	Path        string
	Profiles    map[string]*Profile
	SSOSessions map[string]*SSOSession
}

// Path returns the config file path: AWS_CONFIG_FILE, or ~/.aws/config.
func Path(getenv func(string) string) string {
	if p := getenv("AWS_CONFIG_FILE"); p != "" {
		return expandHome(p, getenv)
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".aws", "config")
}

func expandHome(p string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		return filepath.Join(home, p[1:])
	}
	return p
}

// Load reads the config file at path. A missing file is an empty config,
// as it is for the AWS CLI.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{Path: path, Profiles: map[string]*Profile{}, SSOSessions: map[string]*SSOSession{}}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if buf.Len() > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than the %d-byte limit", path, MaxFileSize)
	}
	return Parse(path, buf.Bytes())
}

// Parse reads config data. name is used in errors, which are
// *awsini.SyntaxError naming the line.
func Parse(name string, data []byte) (*Config, error) {
	secs, err := awsini.Parse(name, data, true)
	if err != nil {
		return nil, err
	}
	c := &Config{Path: name, Profiles: map[string]*Profile{}, SSOSessions: map[string]*SSOSession{}}
	for _, sec := range secs {
		kind, sname := sec.Kind()
		switch {
		case kind == "sso-session" && sname != "":
			s := c.SSOSessions[sname]
			if s == nil {
				s = &SSOSession{Name: sname, Line: sec.Line.No}
				c.SSOSessions[sname] = s
			}
			for _, st := range sec.Settings {
				s.set(st.Key, st.Value)
			}
		case sec.Profile != "":
			p := c.Profiles[sec.Profile] // the CLI merges repeated sections
			if p == nil {
				p = &Profile{Name: sec.Profile, Line: sec.Line.No}
				c.Profiles[sec.Profile] = p
			}
			for _, st := range sec.Settings {
				if err := p.set(st.Key, st.Value); err != nil {
					return nil, &awsini.SyntaxError{Path: name, Line: st.Line.No, Msg: err.Error()}
				}
			}
		case kind == "profile":
			return nil, &awsini.SyntaxError{Path: name, Line: sec.Line.No, Msg: "profile section without a name"}
		}
		// Other sections (services, ...) are not ours.
	}
	return c, nil
}

func (p *Profile) set(key, val string) error {
	switch key {
	case "mfa_serial":
		p.MFASerial = val
	case "role_arn":
		p.RoleARN = val
	case "source_profile":
		p.SourceProfile = val
	case "external_id":
		p.ExternalID = val
	case "role_session_name":
		p.RoleSessionName = val
	case "region":
		p.Region = val
	case "mfa_process":
		p.MFAProcess = val
	case "credential_process":
		p.CredentialProcess = val
	case "session_tags":
		tags, err := parseTags(val)
		if err != nil {
			return err
		}
		p.SessionTags = tags
	case "transitive_session_tags":
		p.TransitiveSessionTags = splitList(val)
	case "source_identity":
		p.SourceIdentity = val
	case "mfa_prompt":
		p.MFAPrompt = val
	case "sso_session":
		p.SSOSession = val
	case "sso_start_url":
		p.SSOStartURL = val
	case "sso_region":
		p.SSORegion = val
	case "sso_account_id":
		p.SSOAccountID = val
	case "sso_role_name":
		p.SSORoleName = val
	case "duration_seconds":
		n, err := strconv.Atoi(val)
		if err != nil || n <= 0 || n > 10*24*3600 {
			return fmt.Errorf("duration_seconds %q is not a positive number of seconds", truncate(val))
		}
		p.Duration = time.Duration(n) * time.Second
	}
	return nil
}

func (s *SSOSession) set(key, val string) {
	switch key {
	case "sso_start_url":
		s.StartURL = val
	case "sso_region":
		s.Region = val
	case "sso_registration_scopes":
		s.RegistrationScopes = splitList(val)
	}
}

// IsSSO reports whether p gets its credentials from IAM Identity Center.
func (p *Profile) IsSSO() bool { return p.SSOAccountID != "" || p.SSORoleName != "" }

// resolveSSO fills the start URL and region of an SSO profile from its
// sso-session, and checks that nothing is missing.
func (c *Config) resolveSSO(p *Profile) (*Profile, error) {
	cp := *p
	if p.SSOSession != "" {
		s, ok := c.SSOSessions[p.SSOSession]
		if !ok {
			return nil, fmt.Errorf("profile %q: sso_session %q has no [sso-session %s] section", p.Name, p.SSOSession, p.SSOSession)
		}
		if cp.SSOStartURL != "" && cp.SSOStartURL != s.StartURL {
			return nil, fmt.Errorf("profile %q: sso_start_url differs from that of sso_session %q", p.Name, p.SSOSession)
		}
		cp.SSOStartURL = s.StartURL
		if cp.SSORegion == "" {
			cp.SSORegion = s.Region
		}
	}
	var missing []string
	for _, f := range []struct{ k, v string }{{"sso_start_url", cp.SSOStartURL}, {"sso_region", cp.SSORegion}, {"sso_account_id", cp.SSOAccountID}, {"sso_role_name", cp.SSORoleName}} {
		if f.v == "" {
			missing = append(missing, f.k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("profile %q is an IAM Identity Center profile without %s", p.Name, strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(cp.SSOStartURL, "https://") && !strings.HasPrefix(cp.SSOStartURL, "http://") {
		return nil, fmt.Errorf("profile %q: sso_start_url %q is not a URL", p.Name, truncate(cp.SSOStartURL))
	}
	if len(cp.SSOAccountID) != 12 || strings.Trim(cp.SSOAccountID, "0123456789") != "" {
		return nil, fmt.Errorf("profile %q: sso_account_id %q is not a 12-digit account ID", p.Name, truncate(cp.SSOAccountID))
	}
	if cp.Region == "" {
		cp.Region = cp.SSORegion
	}
	return &cp, nil
}

// STS's limits on session tags.
const (
	MaxSessionTags = 50
	MaxTagKeyLen   = 128
	MaxTagValueLen = 256
)

// parseTags reads session_tags: comma-separated key=value pairs, as
// aws-vault writes them.
func parseTags(val string) (map[string]string, error) {
	tags := map[string]string{}
	for _, kv := range splitList(val) {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok || k == "":
			return nil, fmt.Errorf("session_tags: %q is not key=value", truncate(kv))
		case len(k) > MaxTagKeyLen:
			return nil, fmt.Errorf("session_tags: key %q is longer than %d characters", truncate(k), MaxTagKeyLen)
		case len(v) > MaxTagValueLen:
			return nil, fmt.Errorf("session_tags: the value of %q is longer than %d characters", truncate(k), MaxTagValueLen)
		}
		if _, dup := tags[k]; dup {
			return nil, fmt.Errorf("session_tags: key %q given twice", truncate(k))
		}
		tags[k] = v
	}
	if len(tags) > MaxSessionTags {
		return nil, fmt.Errorf("session_tags: %d tags, STS allows %d", len(tags), MaxSessionTags)
	}
	return tags, nil
}

// splitList splits a comma-separated value, dropping empty items.
func splitList(val string) []string {
	var out []string
	for _, s := range strings.Split(val, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Names returns the names of the file's profiles, sorted.
func (c *Config) Names() []string { return slices.Sorted(maps.Keys(c.Profiles)) }

// Lookup returns the named profile. A profile keywarden knows only from its
// store (no section in the file) is returned empty, with Name set.
func (c *Config) Lookup(name string) *Profile {
	if p, ok := c.Profiles[name]; ok {
		return p
	}
	return &Profile{Name: name}
}

// Resolved is a profile with its source chain followed: the profile whose
// long-term key signs the STS call, and the settings that apply.
type Resolved struct {
	*Profile
	// KeyProfile names the stored long-term key: the end of the
	// source_profile chain (the profile itself when it has none). It is
	// empty when the chain ends at an IAM Identity Center profile.
	KeyProfile string
	// Source is set for a role profile whose source_profile is itself a
	// role profile: that profile, resolved. The role is then assumed with
	// the source role's session (role chaining), each hop cached.
	Source *Resolved
}

// MaxChain bounds how many role profiles a source_profile chain may hold.
const MaxChain = 8

// Resolve follows source_profile to the profile that holds the long-term
// key. mfa_serial and region are inherited from the source when the
// profile does not set them, as the AWS CLI does for region.
//
// A role profile whose source is another role profile is a chain: Source
// holds the source resolved, and region is inherited from it. The MFA code
// (if any) is given on the first role of the chain; the hops after it are
// assumed with the previous role's session, which carries the MFA context.
func (c *Config) Resolve(name string) (*Resolved, error) { return c.resolve(name, nil) }

func (c *Config) resolve(name string, path []string) (*Resolved, error) {
	if slices.Contains(path, name) {
		return nil, fmt.Errorf("profile %q: source_profile goes round in a loop: %s", path[0], strings.Join(append(path, name), " -> "))
	}
	if len(path) >= MaxChain {
		return nil, fmt.Errorf("profile %q: source_profile chain longer than %d role profiles", path[0], MaxChain)
	}
	p := c.Lookup(name)
	if p.CredentialProcess != "" && p.SourceProfile != "" {
		return nil, fmt.Errorf("profile %q has both credential_process and source_profile; the AWS CLI refuses that too", name)
	}
	r := &Resolved{Profile: p, KeyProfile: name}
	if p.IsSSO() {
		if p.SourceProfile != "" || p.RoleARN != "" {
			return nil, fmt.Errorf("profile %q mixes IAM Identity Center (sso_*) with source_profile or role_arn; chain a role profile from it instead", name)
		}
		sp, err := c.resolveSSO(p)
		if err != nil {
			return nil, err
		}
		r.Profile, r.KeyProfile = sp, ""
		return r, nil
	}
	if p.SourceProfile == "" || p.SourceProfile == name {
		return r, nil
	}
	src := c.Lookup(p.SourceProfile)
	if src.RoleARN != "" || src.IsSSO() {
		if p.RoleARN == "" {
			return nil, fmt.Errorf("profile %q: source_profile %q is a role or IAM Identity Center profile, so profile %q needs a role_arn of its own (use %q itself for that role)", name, src.Name, name, src.Name)
		}
		sr, err := c.resolve(src.Name, append(path, name))
		if err != nil {
			return nil, err
		}
		cp := *p
		if cp.Region == "" {
			cp.Region = sr.Region
		}
		cp.MFASerial = sr.MFASerial
		r.Profile = &cp
		r.KeyProfile = sr.KeyProfile
		r.Source = sr
		return r, nil
	}
	if src.SourceProfile != "" && src.SourceProfile != src.Name {
		return nil, fmt.Errorf("profile %q: source_profile %q has a source_profile of its own and no role_arn; point source_profile at the profile whose key is stored", name, src.Name)
	}
	cp := *p
	if cp.MFASerial == "" {
		cp.MFASerial = src.MFASerial
	}
	if cp.Region == "" {
		cp.Region = src.Region
	}
	if cp.MFAProcess == "" {
		cp.MFAProcess = src.MFAProcess
	}
	if cp.MFAPrompt == "" {
		cp.MFAPrompt = src.MFAPrompt
	}
	r.Profile = &cp
	r.KeyProfile = src.Name
	return r, nil
}

package orgaudit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"

	"github.com/keywarden/keywarden/internal/inventory"
)

// The --org-exports layout:
//
//	DIR/organization.json                  the tree and its policies (Organization)
//	DIR/ACCOUNT-ID/credential-report.csv   or credential-report.json
//	DIR/ACCOUNT-ID/authorization-details.json
//	DIR/ACCOUNT-ID/password-policy.json    optional: aws iam get-account-password-policy
//
// An account's directory holds the exports `keywarden audit` reads for one
// account; either of the first two may be missing (the checks it supports
// are then listed as not run), not both. Without password-policy.json the
// password-policy checks are listed as not run.
const (
	OrganizationFile         = "organization.json"
	CredentialReportCSV      = "credential-report.csv"
	CredentialReportJSON     = "credential-report.json"
	AuthorizationDetailsFile = "authorization-details.json"
	PasswordPolicyFile       = "password-policy.json"
)

// maxPasswordPolicySize bounds password-policy.json; the real document is
// a few hundred bytes, and the parser refuses more than this too.
const maxPasswordPolicySize = 64 << 10

// ReadOrganization reads organization.json from an exports directory.
func ReadOrganization(fsys fs.FS, dir string) (*Tree, error) {
	name := path.Join(dir, OrganizationFile)
	data, err := readLimited(fsys, OrganizationFile, name, MaxOrganizationSize)
	if err != nil {
		return nil, err
	}
	return ParseOrganization(name, data)
}

// ExportsLoader loads each account from its directory of fsys. dir is the
// directory's name as the user gave it, for messages. Every error is
// permanent: reading the same file again gives the same answer.
func ExportsLoader(fsys fs.FS, dir string) Loader {
	return func(_ context.Context, a Account) (*inventory.Account, error) {
		acct, err := loadExports(fsys, dir, a.ID)
		if err != nil {
			return nil, Permanent(err)
		}
		return acct, nil
	}
}

func loadExports(fsys fs.FS, dir, id string) (*inventory.Account, error) {
	if st, err := fs.Stat(fsys, id); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("no exports: %s is not a directory", path.Join(dir, id))
	}
	acct := inventory.New()
	found := false
	details := path.Join(id, AuthorizationDetailsFile)
	data, err := readLimited(fsys, details, path.Join(dir, details), inventory.MaxAuthorizationDetailsSize)
	switch {
	case err == nil:
		found = true
		if err := acct.ParseAuthorizationDetails(path.Join(dir, details), data); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	var reports []string
	for _, n := range []string{CredentialReportCSV, CredentialReportJSON} {
		if _, err := fs.Stat(fsys, path.Join(id, n)); err == nil {
			reports = append(reports, n)
		}
	}
	if len(reports) > 1 {
		return nil, fmt.Errorf("%s holds both %s and %s: keep one", path.Join(dir, id), reports[0], reports[1])
	}
	if len(reports) == 1 {
		found = true
		rel := path.Join(id, reports[0])
		name := path.Join(dir, rel)
		data, err := readLimited(fsys, rel, name, inventory.MaxCredentialReportSize)
		if err != nil {
			return nil, err
		}
		rep, err := inventory.ParseCredentialReport(name, data)
		if err != nil {
			return nil, err
		}
		acct.ApplyCredentialReport(name, rep)
	}
	if !found {
		return nil, fmt.Errorf("no exports: %s has neither %s nor %s (or %s)", path.Join(dir, id), AuthorizationDetailsFile, CredentialReportCSV, CredentialReportJSON)
	}
	policy := path.Join(id, PasswordPolicyFile)
	data, err = readLimited(fsys, policy, path.Join(dir, policy), maxPasswordPolicySize)
	switch {
	case err == nil:
		pp, err := inventory.ParsePasswordPolicy(path.Join(dir, policy), data)
		if err != nil {
			return nil, err
		}
		acct.SetPasswordPolicy(pp)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	entries, err := fs.ReadDir(fsys, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(dir, id), err)
	}
	for _, e := range entries {
		switch e.Name() {
		case AuthorizationDetailsFile, CredentialReportCSV, CredentialReportJSON, PasswordPolicyFile:
		default:
			acct.Warnings = append(acct.Warnings, fmt.Sprintf("%s is not an export keywarden reads: not read", path.Join(dir, id, e.Name())))
		}
	}
	return acct, nil
}

// Unlisted returns the entries of the exports directory that are neither
// organization.json nor the directory of an account of t, sorted: they are
// not read, and the report says so.
func Unlisted(fsys fs.FS, t *Tree) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Name() == OrganizationFile {
			continue
		}
		if _, ok := t.Account(e.Name()); ok && e.IsDir() {
			continue
		}
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

func readLimited(fsys fs.FS, rel, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than the %d bytes allowed", name, limit)
	}
	return data, nil
}

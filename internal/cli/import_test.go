package cli

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/atomicfile"
	"github.com/keywarden/keywarden/internal/laptop"
	"github.com/keywarden/keywarden/internal/laptop/laptoptest"
	"github.com/keywarden/keywarden/internal/vault"
)

// importHarness runs doctor and import in-process over a fake home.
type importHarness struct {
	t     *testing.T
	home  string
	env   map[string]string
	store string
}

func newImportHarness(t *testing.T, home string) *importHarness {
	old := vaultOpenTerminal
	vaultOpenTerminal = func() (vault.Terminal, error) { return nil, vault.ErrNoTerminal }
	t.Cleanup(func() { vaultOpenTerminal = old })
	store := t.TempDir()
	return &importHarness{t: t, home: home, store: store, env: map[string]string{
		"HOME": home, "KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": store, "KEYWARDEN_FILE_PASSPHRASE": "import-test",
	}}
}

func (h *importHarness) options() (*importOptions, *bytes.Buffer, *bytes.Buffer) {
	io, out, errOut := Test("")
	f := &Factory{IO: io, Getenv: func(k string) string { return h.env[k] }, Now: func() time.Time {
		return time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	}}
	o := &importOptions{laptopOptions: laptopOptions{vaultOptions: vaultNewOptions(f), Depth: 6,
		Environ: func() []string { return nil }}, Command: "keywarden", Offline: true}
	return o, out, errOut
}

func (h *importHarness) run(o *importOptions) error {
	return runImport(context.Background(), o)
}

func (h *importHarness) stored() map[string]*vault.Key {
	o, _, _ := h.options()
	v, err := o.open()
	if err != nil {
		h.t.Fatal(err)
	}
	names, err := v.KeyNames()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*vault.Key{}
	for _, n := range names {
		k, err := v.GetKey(n)
		if err != nil {
			h.t.Fatal(err)
		}
		out[n] = k
	}
	return out
}

// snapshot reads every regular file under dir (symbolic links are not
// followed: their targets are files of their own).
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unchangedOutside checks that a rewrite kept every line that held none of
// the secrets, byte for byte and in order, and that every line it added or
// changed carries a marker or a key ID, or is the credential_process
// set-up.
func unchangedOutside(t *testing.T, name string, old, new []byte, secrets []string) {
	ids := []string{laptoptest.Work.ID, laptoptest.Personal.ID, laptoptest.Project.ID}
	t.Helper()
	hasSecret := func(l []byte) bool {
		for _, s := range append(ids, secrets...) {
			if bytes.Contains(l, []byte(s)) {
				return true
			}
		}
		return false
	}
	// An emptied value (--fix-project-files) is the old line without its secret.
	emptied := map[string]bool{}
	for _, l := range bytes.SplitAfter(old, []byte("\n")) {
		for _, s := range secrets {
			emptied[strings.ReplaceAll(string(l), s, "")] = true
		}
	}
	newLines := bytes.SplitAfter(new, []byte("\n"))
	j := 0
	for _, l := range bytes.SplitAfter(old, []byte("\n")) {
		if hasSecret(l) {
			continue
		}
		for j < len(newLines) && !bytes.Equal(newLines[j], l) {
			added := string(newLines[j])
			if !strings.Contains(added, "<moved to keywarden: ") && !strings.HasPrefix(added, "credential_process = keywarden credential-process ") &&
				!strings.HasPrefix(added, "[profile ") && strings.TrimSpace(added) != "" && !hasSecret(newLines[j]) && !emptied[added] {
				t.Errorf("%s: line %q was added or changed", name, added)
			}
			j++
		}
		if j == len(newLines) {
			t.Fatalf("%s: the line %q is gone or changed", name, l)
		}
		j++
	}
}

// TestImportFakeHome imports every key of the fake home: afterwards no
// imported secret is in any file under it, every other byte is as it was,
// modes, links and the read-only file are kept, the store holds each key
// once, doctor comes out clean for them, and a second run changes nothing.
func TestImportFakeHome(t *testing.T) {
	home := laptoptest.FakeHome(t)
	h := newImportHarness(t, home)
	// A file owned by someone else (root can make one): its owner is kept.
	hist := filepath.Join(home, ".bash_history")
	chowned := os.Getuid() == 0 && os.Chown(hist, 65534, 65534) == nil
	before := snapshot(t, home)
	secrets := []string{laptoptest.Work.Secret, laptoptest.Personal.Secret, laptoptest.Project.Secret}

	o, out, errOut := h.options()
	o.FixProjectFiles = true
	if err := h.run(o); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, errOut)
	}
	for _, s := range secrets {
		if strings.Contains(out.String()+errOut.String(), s) {
			t.Fatal("a secret was printed")
		}
	}
	after := snapshot(t, home)
	for p, data := range after {
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s still holds an imported secret", p)
			}
		}
	}
	for p, old := range before {
		nw, ok := after[p]
		if !ok {
			t.Errorf("%s was deleted", p)
			continue
		}
		unchangedOutside(t, p, old, nw, secrets)
	}
	if st, err := os.Lstat(filepath.Join(home, ".bashrc")); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf(".bashrc is no longer a symbolic link: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(home, ".s3cfg")); st.Mode().Perm() != 0o400 {
		t.Errorf(".s3cfg mode %v, want 0400 kept", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Join(home, ".aws", "config")); st.Mode().Perm() != 0o644 {
		t.Errorf("config mode %v, want 0644 kept", st.Mode().Perm())
	}
	if chowned {
		st, _ := os.Stat(hist)
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != 65534 || sys.Gid != 65534 {
			t.Errorf("the bash history's owner was not kept: %+v", st.Sys())
		}
	} else {
		t.Log("not root: the owner check is skipped")
	}
	// The zsh history's metafied line is kept byte for byte.
	if !bytes.Contains(after[filepath.Join(home, ".zsh_history")], laptoptest.Metafy([]byte("echo deploy — ś done"))) {
		t.Error("the metafied zsh line changed")
	}

	keys := h.stored()
	want := map[string]laptoptest.Pair{"work": laptoptest.Work, "default": laptoptest.Personal, "app": laptoptest.Project}
	if len(keys) != len(want) {
		t.Fatalf("stored %d keys, want %d: %v", len(keys), len(want), keys)
	}
	for name, p := range want {
		if k := keys[name]; k == nil || k.AccessKeyID != p.ID || k.SecretAccessKey != p.Secret {
			t.Errorf("store entry %s: %+v", name, k)
		}
	}
	config := string(after[filepath.Join(home, ".aws", "config")])
	for _, line := range []string{"credential_process = keywarden credential-process work\n", "credential_process = keywarden credential-process default\n", "[profile app]\ncredential_process = keywarden credential-process app\n"} {
		if !strings.Contains(config, line) {
			t.Errorf("config lacks %q:\n%s", line, config)
		}
	}
	if !strings.Contains(out.String(), "history -c && history -r") || !strings.Contains(out.String(), "history clear-session") {
		t.Errorf("no advice on in-memory histories:\n%s", out)
	}

	// Twice: nothing changes.
	o, out, errOut = h.options()
	o.FixProjectFiles = true
	if err := h.run(o); err != nil {
		t.Fatalf("second import: %v\n%s%s", err, out, errOut)
	}
	again := snapshot(t, home)
	for p, data := range after {
		if !bytes.Equal(again[p], data) {
			t.Errorf("the second run changed %s", p)
		}
	}
	if strings.Contains(out.String(), "Rewrote") {
		t.Errorf("the second run rewrote files:\n%s", out)
	}
}

// TestImportCredentialsFile pins the rewrite of the AWS CLI's files: the
// key's lines leave the credentials file (CRLF kept, comments, other
// profiles and order kept), a file with nothing else is deleted, and the
// config gets credential_process with a small text edit.
func TestImportCredentialsFile(t *testing.T) {
	k := laptoptest.Work
	tests := []struct {
		name                  string
		creds, config         string
		wantCreds, wantConfig string
		credsDeleted          bool
	}{
		{
			name:       "other profile and comments kept, CRLF",
			creds:      "# mine\r\n[other]\r\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\r\n\r\n[work]\r\naws_access_key_id = " + k.ID + "\r\naws_secret_access_key = " + k.Secret + "\r\nregion = eu-west-1\r\n",
			config:     "[profile work]\r\nregion = eu-west-1\r\n",
			wantCreds:  "# mine\r\n[other]\r\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\r\n\r\n[work]\r\nregion = eu-west-1\r\n",
			wantConfig: "[profile work]\r\nregion = eu-west-1\r\ncredential_process = keywarden credential-process work\r\n",
		},
		{
			name:         "nothing else left: deleted; config created",
			creds:        "[work]\naws_access_key_id=" + k.ID + "\naws_secret_access_key=" + k.Secret + "\n",
			wantConfig:   "[profile work]\ncredential_process = keywarden credential-process work\n",
			credsDeleted: true,
		},
		{
			name:       "empty section removed, comment section kept, config without final newline",
			creds:      "[work]\naws_access_key_id = " + k.ID + "\naws_secret_access_key = " + k.Secret + "\n[ci]\n# ci keys live in CI\n",
			config:     "[default]\nregion = us-east-1",
			wantCreds:  "[ci]\n# ci keys live in CI\n",
			wantConfig: "[default]\nregion = us-east-1\n\n[profile work]\ncredential_process = keywarden credential-process work\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			aws := filepath.Join(home, ".aws")
			if err := os.Mkdir(aws, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(aws, "credentials"), []byte(tc.creds), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(aws, "config"), []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h := newImportHarness(t, home)
			o, out, errOut := h.options()
			if err := h.run(o); err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			got, err := os.ReadFile(filepath.Join(aws, "credentials"))
			if tc.credsDeleted {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("credentials not deleted: %q", got)
				}
			} else if string(got) != tc.wantCreds {
				t.Errorf("credentials:\n%q\nwant\n%q", got, tc.wantCreds)
			}
			gotc, _ := os.ReadFile(filepath.Join(aws, "config"))
			if string(gotc) != tc.wantConfig {
				t.Errorf("config:\n%q\nwant\n%q", gotc, tc.wantConfig)
			}
		})
	}
}

// TestImportWriteFails injects a write that fails half-way through one
// file and a file that changes while import runs: both files are left as
// they were, the keys stay in the store, the output says so and the exit
// code is 2; run again, import finishes the job.
func TestImportWriteFails(t *testing.T) {
	home := laptoptest.FakeHome(t)
	h := newImportHarness(t, home)
	zsh := filepath.Join(home, ".zsh_history")
	bash := filepath.Join(home, ".bash_history")
	zshBefore, _ := os.ReadFile(zsh)
	o, out, errOut := h.options()
	o.writer = &laptop.Writer{WriteFile: func(path string, data []byte, perm fs.FileMode) error {
		switch path {
		case zsh:
			// Half the new content reaches a temporary file, then the disk fills.
			tmp, err := os.CreateTemp(filepath.Dir(path), ".keywarden-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			if _, err := tmp.Write(data[:len(data)/2]); err != nil {
				return err
			}
			return errors.New("no space left on device")
		case filepath.Join(home, ".aws", "credentials"):
			// A shell exits and appends to its history meanwhile.
			f, err := os.OpenFile(bash, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, _ = f.WriteString("#1764700200\nexit\n")
			_ = f.Close()
		}
		return atomicfile.Write(path, data, perm)
	}}
	err := h.run(o)
	if ExitCode(err) != ExitError {
		t.Fatalf("exit %d (%v), want 2\n%s%s", ExitCode(err), err, out, errOut)
	}
	if got, _ := os.ReadFile(zsh); !bytes.Equal(got, zshBefore) {
		t.Error("the zsh history changed although its write failed")
	}
	if got, _ := os.ReadFile(bash); !bytes.Contains(got, []byte(laptoptest.Work.Secret)) || !bytes.HasSuffix(got, []byte("exit\n")) {
		t.Error("the bash history that changed during the run was rewritten")
	}
	for _, want := range []string{"~/.zsh_history: writing failed, the file is unchanged: no space left on device", "~/.bash_history: changed since it was read"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out.String(), "bash: history -c") || strings.Contains(out.String(), "zsh: fc -p") {
		t.Errorf("history advice for histories that were not rewritten:\n%s", out)
	}
	if !strings.Contains(err.Error(), "the keys are in the store") {
		t.Errorf("error %q does not say the keys are in the store", err)
	}
	if keys := h.stored(); keys["default"] == nil || keys["work"] == nil {
		t.Fatalf("keys missing from the store: %v", keys)
	}
	if ents, _ := filepath.Glob(filepath.Join(home, ".keywarden-*")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}

	o, out, errOut = h.options()
	if err := h.run(o); err != nil {
		t.Fatalf("second run: %v\n%s%s", err, out, errOut)
	}
	for _, p := range []string{zsh, bash} {
		if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(laptoptest.Work.Secret)) || bytes.Contains(data, []byte(laptoptest.Personal.Secret)) {
			t.Errorf("%s still holds a secret after the second run", p)
		}
	}
}

// TestDoctorHostileNames: a file name with terminal escapes, found under a
// root, is printed with the escapes replaced.
func TestDoctorHostileNames(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, "evil\x1b[2J\x1b]0;pwned\x07")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := "AWS_ACCESS_KEY_ID=" + laptoptest.Work.ID + "\nAWS_SECRET_ACCESS_KEY=" + laptoptest.Work.Secret + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newImportHarness(t, home)
	o, out, _ := h.options()
	err := runDoctor(context.Background(), &doctorOptions{laptopOptions: o.laptopOptions, Format: "text", FailOn: "high"})
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d: %v\n%s", ExitCode(err), err, out)
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") || !strings.Contains(out.String(), "~/evil?[2J?]0;pwned?/.env") {
		t.Errorf("escapes reached the output:\n%q", out)
	}
}

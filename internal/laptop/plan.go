package laptop

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/awsini"
	"github.com/keywarden/keywarden/internal/awskey"
)

// Key is a distinct long-term key pair to move into the store, with every
// place it was found.
type Key struct {
	Name   string
	KeyID  string
	Secret string
	Hits   []Hit
}

// namePriority ranks where a name comes from: the AWS CLI's own profile
// names first, then a project's directory, then variables, then the rest;
// the "default" that a plain AWS_ACCESS_KEY_ID gives comes after any name
// that says more.
func namePriority(h *Hit) int {
	p := 4
	switch h.Form {
	case FormCredentials:
		return 0
	case FormConfig:
		return 1
	case FormProject:
		p = 2
	case FormStartup, FormEnv:
		p = 3
	}
	if h.Name == "default" {
		p += 10
	}
	return p
}

// Keys merges the hits into distinct key pairs (by key ID and secret),
// named after the most telling place they were found in, or by names
// (key ID to profile name, from --name). Two keys wanting the same name:
// the second gets the last four characters of its ID appended.
func Keys(hits []Hit, names map[string]string) []Key {
	byPair := map[string]*Key{}
	prio := map[string]int{}
	var order []string
	for _, h := range hits {
		if !h.Pair() || h.Suppressed != "" {
			continue
		}
		id := h.KeyID + "\x00" + h.Secret
		k, ok := byPair[id]
		if !ok {
			k = &Key{KeyID: h.KeyID, Secret: h.Secret}
			byPair[id] = k
			prio[id] = 99
			order = append(order, id)
		}
		k.Hits = append(k.Hits, h)
		if p := namePriority(&h); p < prio[id] && h.Name != "" {
			k.Name, prio[id] = h.Name, p
		}
	}
	used := map[string]bool{}
	out := make([]Key, 0, len(order))
	for _, id := range order {
		k := byPair[id]
		if n := names[k.KeyID]; n != "" {
			k.Name = n
		}
		if k.Name == "" {
			k.Name = "default"
		}
		if used[k.Name] {
			k.Name += "-" + strings.ToLower(k.KeyID[len(k.KeyID)-4:])
		}
		used[k.Name] = true
		out = append(out, *k)
	}
	return out
}

// Marker is what replaces a secret moved into the store.
func Marker(name string) string { return "<moved to keywarden: " + name + ">" }

// Edit replaces Old[Start:End] with New.
type Edit struct {
	Start, End int
	New        string
}

// FilePlan is the rewrite of one file.
type FilePlan struct {
	Path  string
	Form  Form
	Old   []byte
	Edits []Edit // sorted, not overlapping
	// Delete removes the file instead: a credentials file with nothing
	// left in it.
	Delete bool
	// Secrets must not be in the file afterwards.
	Secrets []string
	// Notes say what the plan could not do (a profile whose config
	// conflicts with credential_process).
	Notes []string
}

// New returns the file's new content.
func (p *FilePlan) New() []byte {
	var b bytes.Buffer
	prev := 0
	for _, e := range p.Edits {
		b.Write(p.Old[prev:e.Start])
		b.WriteString(e.New)
		prev = e.End
	}
	b.Write(p.Old[prev:])
	return b.Bytes()
}

// Empty reports whether the plan changes nothing.
func (p *FilePlan) Empty() bool { return len(p.Edits) == 0 && !p.Delete }

// PlanOptions tune the rewrites.
type PlanOptions struct {
	// Command is the keywarden executable credential_process runs
	// (default "keywarden").
	Command string
	// FixProjectFiles empties the values in .env, tfvars and other
	// project and tool files instead of leaving them.
	FixProjectFiles bool
}

// credentialKeys are the settings of a credentials section import removes.
var credentialKeys = map[string]bool{"aws_access_key_id": true, "aws_secret_access_key": true, "aws_session_token": true, "aws_security_token": true}

// Use says that the AWS profile Profile now gets its credentials from
// the store entry Store, through credential_process.
type Use struct{ Profile, Store string }

// Uses returns the profiles the imported keys serve: the profiles of the
// AWS CLI's files they were found under (so that "--profile ci" keeps
// working whatever the store entry is named), else a profile named after
// the store entry. Sorted by profile.
func Uses(keys []Key) []Use {
	seen := map[string]bool{}
	var out []Use
	for _, k := range keys {
		n := 0
		for _, h := range k.Hits {
			if (h.Form == FormCredentials || h.Form == FormConfig) && h.Name != "" {
				n++
				if !seen[h.Name] {
					seen[h.Name] = true
					out = append(out, Use{h.Name, k.Name})
				}
			}
		}
		if n == 0 && !seen[k.Name] {
			seen[k.Name] = true
			out = append(out, Use{k.Name, k.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out
}

// Plan computes the rewrite of one file (read from place p as data) that
// removes the imported keys. The AWS config file also gets the
// credential_process line of each use.
func Plan(p Place, data []byte, keys []Key, uses []Use, opt PlanOptions) (*FilePlan, error) {
	fp := &FilePlan{Path: p.Path, Form: p.Form, Old: data}
	secrets := map[string]string{} // secret -> profile name
	ids := map[string]string{}
	for _, k := range keys {
		secrets[k.Secret] = k.Name
		ids[k.KeyID] = k.Name
	}
	var edits []Edit
	switch p.Form {
	case FormCredentials, FormConfig:
		secs, err := awsini.Parse(p.Path, data, p.Form == FormConfig)
		if err != nil {
			return nil, err
		}
		edits = iniEdits(data, secs, ids, secrets)
		if p.Form == FormConfig {
			for _, u := range uses {
				e, note := credentialProcessEdit(data, secs, u, opt.Command)
				if note != "" {
					fp.Notes = append(fp.Notes, note)
				}
				if e != nil {
					edits = append(edits, *e)
				}
			}
		}
	case FormStartup:
		edits = startupEdits(data, ids, secrets)
	case FormHistory:
	case FormProject, FormTool:
		if !opt.FixProjectFiles {
			return fp, nil
		}
		for s := range secrets {
			edits = append(edits, occurrences(data, s, "")...)
		}
	default:
		return fp, nil
	}
	if p.Form != FormProject && p.Form != FormTool {
		for s, name := range secrets {
			edits = append(edits, occurrences(data, s, Marker(name))...)
		}
	}
	fp.Edits = merge(edits)
	for s := range secrets {
		if bytes.Contains(data, []byte(s)) {
			fp.Secrets = append(fp.Secrets, s)
		}
	}
	sort.Strings(fp.Secrets)
	if p.Form == FormCredentials && len(fp.Edits) > 0 && len(bytes.TrimSpace(fp.New())) == 0 {
		fp.Delete = true
	}
	return fp, nil
}

// occurrences returns edits replacing every occurrence of s with repl.
func occurrences(data []byte, s, repl string) []Edit {
	var out []Edit
	for off := 0; s != ""; {
		i := bytes.Index(data[off:], []byte(s))
		if i < 0 {
			break
		}
		out = append(out, Edit{off + i, off + i + len(s), repl})
		off += i + len(s)
	}
	return out
}

// merge sorts edits and drops any that overlap an earlier, wider one (a
// whole line removed covers the secret's replacement inside it). An
// insertion goes before a removal starting at the same offset: it
// overlaps nothing (credential_process added where the next, emptied
// section's header is removed).
func merge(es []Edit) []Edit {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if (a.End == a.Start) != (b.End == b.Start) {
			return a.End == a.Start
		}
		return a.End > b.End
	})
	var out []Edit
	for _, e := range es {
		if len(out) > 0 && e.Start < out[len(out)-1].End {
			continue
		}
		out = append(out, e)
	}
	return out
}

// iniEdits removes the credential lines of each section holding an
// imported key, and the section's header when nothing else is left in it.
func iniEdits(data []byte, secs []awsini.Section, ids, secrets map[string]string) []Edit {
	var out []Edit
	for _, s := range secs {
		id, _ := s.Get("aws_access_key_id")
		secret, _ := s.Get("aws_secret_access_key")
		if ids[id] == "" && secrets[secret] == "" {
			continue
		}
		left := 0
		for _, st := range s.Settings {
			if credentialKeys[st.Key] {
				out = append(out, Edit{st.Line.Start, st.Line.Next, ""})
			} else {
				left++
			}
		}
		if left == 0 && onlySettings(data, s) {
			out = append(out, Edit{s.Line.Start, s.Line.Next, ""})
		}
	}
	return out
}

// onlySettings reports whether a section's body has nothing but its
// settings and blank lines (no comment a user wrote there).
func onlySettings(data []byte, s awsini.Section) bool {
	for _, l := range awsini.SplitLines(data[s.Line.Next:s.End]) {
		t := bytes.TrimSpace(data[s.Line.Next+l.Start : s.Line.Next+l.End])
		if len(t) > 0 && (t[0] == '#' || t[0] == ';') {
			return false
		}
	}
	return true
}

// credentialProcessEdit adds "credential_process = CMD credential-process
// STORE" to the use's profile in the config file: after the section's last
// setting, or in a new section at the end. A profile that gets its
// credentials another way (role, SSO, another process) is left alone and
// a note says so.
func credentialProcessEdit(data []byte, secs []awsini.Section, u Use, command string) (*Edit, string) {
	if command == "" {
		command = "keywarden"
	}
	name := u.Profile
	want := command + " credential-process " + u.Store
	eol := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		eol = "\r\n"
	}
	var sec *awsini.Section
	for i := range secs {
		if secs[i].Profile == name {
			sec = &secs[i]
		}
	}
	if sec == nil {
		header := "[profile " + name + "]"
		if name == "default" {
			header = "[default]"
		}
		pre := ""
		if len(data) > 0 && data[len(data)-1] != '\n' {
			pre = eol
		}
		if len(data) > 0 {
			pre += eol
		}
		return &Edit{len(data), len(data), pre + header + eol + "credential_process = " + want + eol}, ""
	}
	if v, ok := sec.Get("credential_process"); ok {
		if v == want {
			return nil, ""
		}
		return nil, fmt.Sprintf("profile %s already has credential_process = %s: left as it is; point it at %q to use the imported key", name, v, want)
	}
	for _, k := range []string{"source_profile", "role_arn", "sso_session", "sso_start_url", "credential_source", "web_identity_token_file"} {
		if _, ok := sec.Get(k); ok {
			return nil, fmt.Sprintf("profile %s uses %s: not given credential_process (a profile cannot have both); add a profile that uses %q", name, k, want)
		}
	}
	at := sec.Line.Next
	for _, st := range sec.Settings {
		at = max(at, st.Line.Next)
	}
	pre := ""
	if at == len(data) && (at == 0 || data[at-1] != '\n') {
		pre = eol
	}
	return &Edit{at, at, pre + "credential_process = " + want + eol}, ""
}

// startupEdits replaces each line that only exports an imported key's ID
// or secret with a comment carrying the marker, keeping its indentation.
func startupEdits(data []byte, ids, secrets map[string]string) []Edit {
	var out []Edit
	for _, a := range ParseAssignments(data) {
		v := data[a.ValStart:a.ValEnd]
		name := ids[string(v)]
		if name == "" {
			name = secrets[string(v)]
		}
		if name == "" {
			continue
		}
		indent := a.Line.Start
		for indent < a.Line.End && (data[indent] == ' ' || data[indent] == '\t') {
			indent++
		}
		out = append(out, Edit{indent, a.Line.End, "# " + a.Var + " " + Marker(name)})
	}
	return out
}

// Diff renders the plan as a unified-style diff of the lines it changes,
// with every secret redacted.
func (p *FilePlan) Diff() string {
	if p.Empty() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", p.Path, p.Path)
	if p.Delete {
		b.WriteString("(file deleted: nothing but the removed keys was in it)\n")
		return b.String()
	}
	redact := func(s string) string {
		for _, sec := range p.Secrets {
			s = strings.ReplaceAll(s, sec, awskey.Redact(sec))
		}
		return redactSecretLike(s)
	}
	lines := awsini.SplitLines(p.Old)
	lineAt := func(off int) int { // index of the line holding off
		return sort.Search(len(lines), func(i int) bool { return lines[i].Next > off })
	}
	atLineStart := func(off int) bool { return off == 0 || p.Old[off-1] == '\n' }
	for i := 0; i < len(p.Edits); {
		// The lines an edit touches; edits sharing lines go together.
		start := p.Edits[i].Start
		if l := lineAt(start); l < len(lines) {
			start = lines[l].Start
		}
		end, j := start, i
		for ; j < len(p.Edits) && (j == i || p.Edits[j].Start <= end); j++ {
			e := p.Edits[j].End
			if !atLineStart(e) {
				if l := lineAt(e); l < len(lines) {
					e = lines[l].Next
				} else {
					e = len(p.Old)
				}
			}
			end = max(end, e)
		}
		var nw strings.Builder
		prev := start
		for _, e := range p.Edits[i:j] {
			nw.Write(p.Old[prev:e.Start])
			nw.WriteString(e.New)
			prev = e.End
		}
		nw.Write(p.Old[prev:end])
		fmt.Fprintf(&b, "@@ line %d @@\n", lineAt(start)+1)
		for _, l := range diffLines(string(p.Old[start:end])) {
			fmt.Fprintf(&b, "-%s\n", redact(l))
		}
		for _, l := range diffLines(nw.String()) {
			fmt.Fprintf(&b, "+%s\n", redact(l))
		}
		i = j
	}
	return b.String()
}

// redactSecretLike redacts, in a line shown to the user, every run of
// secret characters that could be a credential this plan does not remove:
// a secret access key's shape (40 characters) or a session token's length.
func redactSecretLike(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && awskey.IsSecretChar(s[j]) {
			j++
		}
		if j == i {
			b.WriteByte(s[i])
			i++
			continue
		}
		run := s[i:j]
		if awskey.LooksLikeSecret(run) || len(run) >= 100 {
			run = awskey.Redact(run)
		}
		b.WriteString(run)
		i = j
	}
	return b.String()
}

func diffLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	ls := strings.Split(s, "\n")
	for i := range ls {
		ls[i] = strings.TrimSuffix(ls[i], "\r")
	}
	return ls
}

package secretscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/keywarden/keywarden/internal/report"
)

// Baseline is a set of accepted findings, keyed by fingerprint (a hash of
// the rule, the secret and the path), so that an entry survives line moves
// and rebases and the file holds no secret.
type Baseline struct {
	entries map[string]BaselineEntry
}

// BaselineEntry is one accepted finding. Evidence is redacted: it is there
// for the reviewer of the baseline file, never used for matching.
type BaselineEntry struct {
	Fingerprint string `json:"fingerprint"`
	RuleID      string `json:"rule_id"`
	Path        string `json:"path,omitempty"`
	Evidence    string `json:"evidence,omitempty"`
}

type baselineFile struct {
	Tool    string          `json:"tool"`
	Version int             `json:"version"`
	Entries []BaselineEntry `json:"entries"`
}

// MaxBaselineSize bounds the baseline file we read.
const MaxBaselineSize = 64 << 20

// ParseBaseline reads a baseline file. name is used in errors.
func ParseBaseline(name string, data []byte) (*Baseline, error) {
	if len(data) > MaxBaselineSize {
		return nil, fmt.Errorf("%s: baseline larger than %d bytes", name, MaxBaselineSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f baselineFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: not a keywarden baseline: %v", name, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%s: baseline version %d, want 1", name, f.Version)
	}
	b := &Baseline{entries: map[string]BaselineEntry{}}
	for i, e := range f.Entries {
		if len(e.Fingerprint) != 32 {
			return nil, fmt.Errorf("%s: entry %d: fingerprint %q is not 32 hex digits", name, i, e.Fingerprint)
		}
		b.entries[e.Fingerprint] = e
	}
	return b, nil
}

// Len is the number of entries.
func (b *Baseline) Len() int { return len(b.entries) }

// Apply marks the findings whose fingerprint is in the baseline, and
// returns how many it marked. Findings already suppressed keep their
// reason.
func (b *Baseline) Apply(fs []report.Finding) int {
	n := 0
	for i := range fs {
		if fs[i].Suppressed != "" {
			continue
		}
		if _, ok := b.entries[fs[i].Fingerprint]; ok {
			fs[i].Suppressed = SuppressedBaseline
			n++
		}
	}
	return n
}

// WriteBaseline renders a baseline holding every finding that counts (not
// examples, not inline-allowed), plus the entries of prev if given (so
// that rewriting a baseline keeps what a narrower scan did not see).
func WriteBaseline(fs []report.Finding, prev *Baseline) ([]byte, error) {
	seen := map[string]bool{}
	var entries []BaselineEntry
	for _, f := range fs {
		if f.Suppressed == SuppressedExample || f.Suppressed == SuppressedInline || f.Fingerprint == "" || seen[f.Fingerprint] {
			continue
		}
		seen[f.Fingerprint] = true
		entries = append(entries, BaselineEntry{Fingerprint: f.Fingerprint, RuleID: f.RuleID, Path: f.Location.Path, Evidence: redactEvidence(f)})
	}
	if prev != nil {
		for fp, e := range prev.entries {
			if !seen[fp] {
				seen[fp] = true
				entries = append(entries, e)
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Path != entries[j].Path {
			return entries[i].Path < entries[j].Path
		}
		return entries[i].Fingerprint < entries[j].Fingerprint
	})
	if entries == nil {
		entries = []BaselineEntry{}
	}
	out, err := json.MarshalIndent(baselineFile{Tool: "keywarden scan", Version: 1, Entries: entries}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// redactEvidence keeps the redacted key ID only: a baseline must hold no
// secret even when the scan ran with --show-secrets.
func redactEvidence(f report.Finding) string {
	if id, ok := f.Properties["key_id"].(string); ok {
		return id
	}
	return ""
}

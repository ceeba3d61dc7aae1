package detect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// undoTemplate is a rule's undo command split into literal text and
// fields read from the event.
type undoTemplate struct {
	lits   []string // len(fields)+1 pieces around the placeholders
	fields []*fieldGetter
	only   []string // event names the command undoes (none: every event)
}

// compileUndo reads "[EventName,...] command with {field} placeholders";
// the bracketed names, when given, limit the command to those events (a
// bucket ACL is reset with put-bucket-acl, an object's with put-object-acl).
func compileUndo(s string) (*undoTemplate, error) {
	t := &undoTemplate{}
	rest := s
	if names, cmd, ok := strings.Cut(strings.TrimPrefix(s, "["), "] "); ok && strings.HasPrefix(s, "[") {
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" {
				t.only = append(t.only, n)
			}
		}
		if len(t.only) == 0 {
			return nil, fmt.Errorf("undo %q: no event name in []", s)
		}
		rest = cmd
	}
	if strings.TrimSpace(rest) == "" {
		return nil, fmt.Errorf("undo: empty command")
	}
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.lits = append(t.lits, rest)
			return t, nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("undo %q: unclosed {", s)
		}
		g, err := getter(rest[i+1 : i+j])
		if err != nil {
			return nil, fmt.Errorf("undo %q: %w", s, err)
		}
		t.lits = append(t.lits, rest[:i])
		t.fields = append(t.fields, g)
		rest = rest[i+j+1:]
	}
}

// fill returns the command for one event, or "" when a field it needs is
// absent (a command with a hole in it would mislead) or the command is for
// other events.
func (t *undoTemplate) fill(r *cloudtrail.Record) string {
	if len(t.only) > 0 && !slices.Contains(t.only, r.EventName) {
		return ""
	}
	var b strings.Builder
	for i, g := range t.fields {
		b.WriteString(t.lits[i])
		v := ""
		g.each(r, func(s string) bool { v = s; return false })
		if v == "" {
			return ""
		}
		b.WriteString(shellQuote(v))
	}
	b.WriteString(t.lits[len(t.lits)-1])
	return b.String()
}

// shellQuote quotes a value from the logs so that the command can be
// pasted into a shell as is: plain names stay bare, anything else is
// single-quoted.
func shellQuote(s string) string {
	plain := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@+,", c)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

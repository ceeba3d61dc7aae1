package laptop

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awsini"
)

// Entry is one command of a shell history: where it is in the file, when
// it was run (when the history says), and its text as the shell would run
// it (unescaped, unmetafied).
type Entry struct {
	Line       int // 1-based line of the command's first line
	Start, End int // byte range of the entry in the file
	Command    string
	Time       time.Time // zero when the history has no timestamp
}

// ParseBashHistory reads a bash history. With HISTTIMEFORMAT set, bash
// writes a "#<unix seconds>" line before each command; a "#" line that is
// not a timestamp is a command (a comment typed at the prompt).
func ParseBashHistory(data []byte) []Entry {
	var out []Entry
	var ts time.Time
	for _, l := range awsini.SplitLines(data) {
		text := string(data[l.Start:l.End])
		if t, ok := bashTimestamp(text); ok {
			ts = t
			continue
		}
		out = append(out, Entry{Line: l.No, Start: l.Start, End: l.End, Command: text, Time: ts})
		ts = time.Time{}
	}
	return out
}

func bashTimestamp(s string) (time.Time, bool) {
	if len(s) < 2 || s[0] != '#' {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// zshMeta is the byte zsh writes before a "metafied" byte: bytes that
// would confuse its line editor (NUL and 0x83-0x9d among others) are
// stored as zshMeta followed by the byte XOR 0x20.
const zshMeta = 0x83

// Unmetafy undoes zsh's metafication of history text.
func Unmetafy(b []byte) []byte {
	if bytes.IndexByte(b, zshMeta) < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == zshMeta && i+1 < len(b) {
			i++
			out = append(out, b[i]^0x20)
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// ParseZshHistory reads a zsh history, plain or extended
// (": <start>:<elapsed>;command"). A command spanning several lines has a
// backslash before each inner line break. Text is unmetafied.
func ParseZshHistory(data []byte) []Entry {
	var out []Entry
	lines := awsini.SplitLines(data)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		first := l
		for l.End > l.Start && data[l.End-1] == '\\' && i+1 < len(lines) {
			i++
			l = lines[i]
		}
		raw := data[first.Start:l.End]
		e := Entry{Line: first.No, Start: first.Start, End: l.End}
		if t, rest, ok := zshExtended(raw); ok {
			e.Time, raw = t, rest
		}
		e.Command = strings.ReplaceAll(string(Unmetafy(raw)), "\\\n", "\n")
		out = append(out, e)
	}
	return out
}

func zshExtended(b []byte) (time.Time, []byte, bool) {
	if !bytes.HasPrefix(b, []byte(": ")) {
		return time.Time{}, b, false
	}
	semi := bytes.IndexByte(b, ';')
	if semi < 0 {
		return time.Time{}, b, false
	}
	start, _, ok := strings.Cut(string(b[2:semi]), ":")
	n, err := strconv.ParseInt(start, 10, 64)
	if !ok || err != nil || n < 0 || n > 1<<40 {
		return time.Time{}, b, false
	}
	return time.Unix(n, 0).UTC(), b[semi+1:], true
}

// ParseFishHistory reads fish's YAML-like history: "- cmd: <command>"
// with "\n" and "\\" escaped, then indented "when: <unix seconds>" and
// "paths:" lines.
func ParseFishHistory(data []byte) []Entry {
	var out []Entry
	for _, l := range awsini.SplitLines(data) {
		text := string(data[l.Start:l.End])
		if cmd, ok := strings.CutPrefix(text, "- cmd: "); ok {
			out = append(out, Entry{Line: l.No, Start: l.Start, End: l.End, Command: fishUnescape(cmd)})
			continue
		}
		if len(out) == 0 {
			continue
		}
		last := &out[len(out)-1]
		if w, ok := strings.CutPrefix(strings.TrimLeft(text, " "), "when: "); ok {
			if n, err := strconv.ParseInt(w, 10, 64); err == nil && n >= 0 && n <= 1<<40 {
				last.Time = time.Unix(n, 0).UTC()
			}
		}
		if strings.HasPrefix(text, " ") {
			last.End = l.End
		}
	}
	return out
}

func fishUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ParsePSReadLine reads PowerShell's PSReadLine history
// (ConsoleHost_history.txt): one command a line, a line ending in a
// backtick continuing on the next.
func ParsePSReadLine(data []byte) []Entry {
	var out []Entry
	lines := awsini.SplitLines(data)
	for i := 0; i < len(lines); i++ {
		first, l := lines[i], lines[i]
		for l.End > l.Start && data[l.End-1] == '`' && i+1 < len(lines) {
			i++
			l = lines[i]
		}
		out = append(out, Entry{Line: first.No, Start: first.Start, End: l.End, Command: string(data[first.Start:l.End])})
	}
	return out
}

// EntryAt returns the entry holding offset off, if any.
func EntryAt(es []Entry, off int) (Entry, bool) {
	lo, hi := 0, len(es)
	for lo < hi {
		m := (lo + hi) / 2
		if es[m].End < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(es) && es[lo].Start <= off && off <= es[lo].End {
		return es[lo], true
	}
	return Entry{}, false
}

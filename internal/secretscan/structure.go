package secretscan

import (
	"bytes"
	"strings"
)

// Pairing by structure. Line distance alone pairs an ID with a neighbour's
// secret as soon as a file holds several credentials: two JSON objects
// whose fields are more than a few lines apart, a .env listing the IDs and
// then the secrets, a Kubernetes env list with two keys. So each hit gets
// the structure it sits in, read from the layout every one of those
// syntaxes shares:
//
//   - its INI section (a "[name]" line: credentials files, TOML);
//   - its parent: the nearest line above it that is indented less (a JSON
//     or HCL object, a YAML mapping, a function body, a call's arguments),
//     and that line's own parent. A YAML list item ("- name: X") counts as
//     indented to its content, so the items of one env list are siblings.
//   - its qualifier: the assignment's name once the usual words are
//     removed, so AWS_ACCESS_KEY_ID_PROD goes with
//     AWS_SECRET_ACCESS_KEY_PROD, not with AWS_SECRET_ACCESS_KEY.
//
// An ID and a secret in different sections or in sibling objects never
// pair; in the same object they pair however far apart; a matching
// qualifier beats a nearer secret.

// place is where a hit sits in the structure of the data.
type place struct {
	line        int // offset of the start of the hit's line
	section     int // offset of the INI section header above, or -1
	parent      int // offset of the parent line, or -1 at the top level
	grandparent int
	qual        string
}

// samePlace reports whether an ID and a secret at a and b may belong to
// one credential: same section, and the same parent, or one nested one
// level under the other's parent (a value on a continuation line).
func samePlace(a, b place) bool {
	if a.section != b.section {
		return false
	}
	return a.parent == b.parent || a.grandparent == b.parent || a.parent == b.grandparent
}

// sameObject reports whether a and b are fields of one object (not the top
// level of the file): they may pair however many lines apart.
func sameObject(a, b place) bool {
	if a.section != b.section {
		return false
	}
	if a.parent == b.parent {
		return a.parent >= 0 || a.section >= 0
	}
	return a.grandparent == b.parent && b.parent >= 0 || a.parent == b.grandparent && a.parent >= 0
}

// placeWindow is how far above a hit its structure is read: a section or a
// parent further up is not seen (the two hits of a pair, at most
// pairObjectLines apart, are then read from the same starting point).
const placeWindow = 8 << 10

// placesOf returns the place of each offset in offs (sorted ascending) in
// one pass over the lines in the windows above them: at most linear in the
// data, and cheap for a large file with a few hits.
func (s *scan) placesOf(offs []int) []place {
	data := s.data
	out := make([]place, len(offs))
	type level struct {
		indent, off int
		block       bool // a YAML block scalar's header ("key: |")
	}
	var stack []level
	section := -1
	k := 0
	for ls := 0; k < len(offs) && ls <= len(data); {
		if w := offs[k] - placeWindow; ls < w {
			// Nothing to report before w: start afresh there.
			ls, _ = s.lineStartAfter(w, ls)
			stack = stack[:0]
			section = -1
		}
		le := s.lineEndBefore(ls, len(data))
		line := data[ls:le]
		ind, blank := indentOf(line)
		// The parent of this line: the nearest line above indented less. A
		// comment finds its parent the same way but closes no block.
		n := len(stack)
		for n > 0 && stack[n-1].indent >= ind {
			n--
		}
		// The lines of a YAML block scalar ("secret_access_key: |" and
		// the value below it) are the value of its header's key: they
		// sit where the header sits.
		m := n
		if m > 0 && stack[m-1].block {
			m--
		}
		parent, grand := -1, -1
		if m > 0 {
			parent = stack[m-1].off
			if m > 1 {
				grand = stack[m-2].off
			}
		}
		if !blank {
			stack = stack[:n]
		}
		for k < len(offs) && offs[k] <= le {
			out[k] = place{line: ls, section: section, parent: parent, grandparent: grand}
			k++
		}
		if !blank {
			if isSectionHeader(line) {
				section = ls
				stack = stack[:0]
			} else {
				stack = append(stack, level{ind, ls, isBlockScalarHeader(line)})
			}
		}
		ls = le + 1
	}
	return out
}

// indentOf returns the indentation of a line, counting a YAML list dash as
// indentation, and whether the line is blank or a comment.
func indentOf(line []byte) (int, bool) {
	i := 0
	for i < len(line) {
		switch c := line[i]; {
		case c == ' ' || c == '\t':
			i++
			continue
		case c == '-' && i+1 < len(line) && (line[i+1] == ' ' || line[i+1] == '\t'):
			i += 2
			continue
		}
		break
	}
	rest := bytes.TrimRight(line[i:], " \t\r")
	blank := len(rest) == 0 || rest[0] == '#' || rest[0] == ';' ||
		bytes.HasPrefix(rest, []byte("//")) || bytes.HasPrefix(rest, []byte("/*")) || rest[0] == '*'
	return i, blank
}

// isBlockScalarHeader reports whether a line ends a YAML key with a block
// scalar indicator: "key: |", "key: >-", "- |+", "key: |2".
func isBlockScalarHeader(line []byte) bool {
	l := bytes.TrimRight(line, " \t\r")
	for len(l) > 0 && (l[len(l)-1] == '-' || l[len(l)-1] == '+' || l[len(l)-1] >= '1' && l[len(l)-1] <= '9') {
		l = l[:len(l)-1]
	}
	if len(l) < 2 || l[len(l)-1] != '|' && l[len(l)-1] != '>' {
		return false
	}
	l = bytes.TrimRight(l[:len(l)-1], " \t")
	return len(l) > 0 && (l[len(l)-1] == ':' || l[len(l)-1] == '-' && len(l) == 1 || bytes.HasSuffix(l, []byte(" -")))
}

// isSectionHeader reports whether a line is an INI or TOML section header:
// "[default]", "[profile prod]", "[[servers]]".
func isSectionHeader(line []byte) bool {
	l := bytes.TrimSpace(line)
	if len(l) < 3 || l[0] != '[' || l[len(l)-1] != ']' {
		return false
	}
	name := bytes.Trim(l, "[]")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if !isAlnum(c) && !strings.ContainsRune(" _-.:/@", rune(c)) {
			return false
		}
	}
	return true
}

// qualifierWords are removed from an assignment's name to leave what
// tells one credential from another ("prod", "2", "backup").
var qualifierWords = []string{
	"secretaccesskey", "accesskeyid", "secretkeyid", "accesskey", "secretkey",
	"secret", "keyid", "key", "amazon", "aws", "export", "setenv", "env",
	"name", "value", "string", "final", "static", "private", "public", "const", "var", "let",
}

// qualifierOf is the name of the value at start without the usual words.
func (s *scan) qualifierOf(start int) string {
	_, norm := s.valueContext(start)
	for _, w := range qualifierWords {
		norm = strings.ReplaceAll(norm, w, "")
	}
	return norm
}

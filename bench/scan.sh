#!/usr/bin/env bash
# bench/scan.sh: keywarden's secret scanner against its floors and a peer,
# measured in one run on one machine.
#
#   tree:    a copy of the Go toolchain's src tree ($(go env GOROOT)/src) with
#            generated keys planted at known places
#            floor: ripgrep searching it for the key-ID pattern
#   history: a git repository of $COMMITS commits (git fast-import) built from
#            the same files, with keys added and removed along the way, in
#            files deleted later and on side branches (some never merged)
#            floor: git log -p --all > /dev/null
#   hook:    `keywarden scan --staged` on a one-file commit, and what the hook
#            adds to `git commit`
#   forms:   one file per form keys leak in beyond plain text (base64 values,
#            YAML block scalars, .gz, a core dump, UTF-16 through stdin, a
#            commit message) and near-misses (issue 17): found or not, per
#            tool (keywarden, gitleaks, trufflehog when installed)
#   peer:    gitleaks (pinned), on the tree and the history, when
#            `go install` can fetch it; trufflehog on the same, when on PATH
#            or built with TRUFFLEHOG=build (its go.mod has replace
#            directives, so `go install` refuses it: the script copies the
#            pinned module from the module proxy and builds it in place,
#            about half an hour of CPU the first time; nothing is committed)
#
# Each timing is the best of $RUNS runs (the corpus is in the page cache
# after the first); gitleaks, much slower, runs $PEER_RUNS time(s), after
# keywarden, so it too finds the corpus cached. Peak memory is /usr/bin/time's maximum resident set size
# (of the largest single process: keywarden, or a git child it ran).
# Every planted key ID must be in keywarden's findings; the script fails if
# one is missing. Keys are generated (internal/awskey), never real.
#
# Usage: bash bench/scan.sh        (env: COMMITS=10000 PLANTS=300 RUNS=3
#                                   PEER_RUNS=1 GITLEAKS=1 TRUFFLEHOG=path|build|0
#                                   KEYWARDEN_BENCH_DIR=/tmp/keywarden-bench)
# Not part of CI: it takes a few minutes and its figures depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${KEYWARDEN_BENCH_DIR:-/tmp/keywarden-bench}
COMMITS=${COMMITS:-10000}
PLANTS=${PLANTS:-300}
RUNS=${RUNS:-3}
PEER_RUNS=${PEER_RUNS:-1} # gitleaks takes tens of seconds a run
GITLEAKS_VERSION=v8.30.1
TRUFFLEHOG_VERSION=v3.90.0
KEY_RE='A(KIA|SIA|BIA|CCA)[A-Z2-7]{16}'
mkdir -p "$WORK/bin" "$WORK/out"
rm -f "$WORK/out/"*.missing
export PATH="$WORK/bin:$PATH" GOWORK=off

say() { printf '\n== %s\n' "$*"; }

# Tools: ripgrep and GNU time from Debian when missing.
need=()
command -v rg >/dev/null || need+=(ripgrep)
[ -x /usr/bin/time ] || need+=(time)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

say "building keywarden and the corpus generator"
go build -o "$WORK/bin/keywarden" ./cmd/keywarden
# The generator is its own little module that borrows internal/awskey (a
# module path under github.com/keywarden/keywarden may import its internal
# packages), so no benchmark-only code lives in the repository.
gen="$WORK/corpusgen"
mkdir -p "$gen"
cat >"$gen/go.mod" <<EOF
module github.com/keywarden/keywarden/bench/corpusgen

go 1.26

require github.com/keywarden/keywarden v0.0.0

replace github.com/keywarden/keywarden => $REPO
EOF
cat >"$gen/main.go" <<'GOSRC'
// corpusgen builds keywarden's scan benchmark corpus: keys planted in a
// copy of a source tree, and a long git history (as a git fast-import
// stream) with keys added and removed along the way. Keys are generated,
// never real; every planted key ID is written to a manifest.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden/internal/awskey"
)

// chacha is the one seeded source: the corpus is the same on every run.
var (
	chacha = rand.NewChaCha8([32]byte{'k', 'e', 'y', 'w', 'a', 'r', 'd', 'e', 'n'})
	rng    = rand.New(chacha)
)

func main() {
	if len(os.Args) < 2 {
		die("usage: corpusgen plant DIR N MANIFEST | history SRC COMMITS MANIFEST > stream")
	}
	switch os.Args[1] {
	case "plant":
		n, _ := strconv.Atoi(os.Args[3])
		plant(os.Args[2], n, os.Args[4])
	case "history":
		n, _ := strconv.Atoi(os.Args[3])
		history(os.Args[2], n, os.Args[4])
	case "forms":
		forms(os.Args[2], os.Args[3])
	default:
		die("unknown mode " + os.Args[1])
	}
}

func die(msg string) {
	fmt.Fprintln(os.Stderr, "corpusgen:", msg)
	os.Exit(2)
}

func check(err error) {
	if err != nil {
		die(err.Error())
	}
}

// newKey makes a fresh random key pair; the account varies too.
func newKey(prefix string) (id, secret string) {
	id, err := awskey.NewID(prefix, rng.Uint64N(1e12), chacha)
	check(err)
	secret, err = awskey.NewSecret(chacha)
	check(err)
	return id, secret
}

// snippet returns a few lines holding a new key, in one of the forms keys
// leak in, and the key ID.
func snippet() (string, string) {
	prefixes := []string{"AKIA", "AKIA", "AKIA", "ASIA"}
	id, secret := newKey(prefixes[rng.IntN(len(prefixes))])
	var s string
	switch rng.IntN(6) {
	case 0:
		s = "aws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n"
	case 1:
		s = "export AWS_ACCESS_KEY_ID=" + id + "\nexport AWS_SECRET_ACCESS_KEY=" + secret + "\n"
	case 2:
		s = "\t\"AccessKeyId\": \"" + id + "\",\n\t\"SecretAccessKey\": \"" + secret + "\",\n"
	case 3:
		s = "\tcreds := credentials.NewStaticCredentials(\"" + id + "\", \"" + secret + "\", \"\")\n"
	case 4:
		s = "// deploy key " + id + "\n"
	default:
		s = "AWS_ACCESS_KEY_ID: " + id + "\n"
	}
	return s, id
}

// insertAt puts text at the start of a random line of content.
func insertAt(content []byte, text string) ([]byte, int) {
	lines := bytes.Count(content, []byte("\n"))
	at := 0
	if lines > 0 {
		at = rng.IntN(lines + 1)
	}
	off := 0
	for i := 0; i < at; i++ {
		j := bytes.IndexByte(content[off:], '\n')
		if j < 0 {
			off = len(content)
			break
		}
		off += j + 1
	}
	out := make([]byte, 0, len(content)+len(text))
	out = append(out, content[:off]...)
	out = append(out, text...)
	out = append(out, content[off:]...)
	return out, at + 1
}

func isText(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) < 0
}

func textFiles(root string, maxSize int64) []string {
	var files []string
	check(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if info, err := d.Info(); err != nil || info.Size() > maxSize || info.Size() == 0 {
			return nil
		}
		files = append(files, p)
		return nil
	}))
	sort.Strings(files)
	return files
}

// plant inserts n keys into text files of dir (a copy of a source tree).
func plant(dir string, n int, manifest string) {
	files := textFiles(dir, 1<<20)
	m, err := os.Create(manifest)
	check(err)
	defer m.Close()
	used := map[string]bool{}
	for planted := 0; planted < n; {
		p := files[rng.IntN(len(files))]
		if used[p] {
			continue
		}
		data, err := os.ReadFile(p)
		check(err)
		if !isText(data) {
			continue
		}
		used[p] = true
		text, id := snippet()
		out, line := insertAt(data, text)
		check(os.WriteFile(p, out, 0o644))
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(m, "%s\t%s:%d\n", id, rel, line)
		planted++
	}
}

// forms writes one file per form keys leak in beyond plain text (issue
// 17), each with a new key pair, and near-misses that must not be
// reported. The manifest lists "ID<TAB>form<TAB>file"; near-misses have
// the ID "-".
func forms(dir, manifest string) {
	check(os.MkdirAll(dir, 0o755))
	m, err := os.Create(manifest)
	check(err)
	defer m.Close()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	write := func(form, name string, data []byte, id string) {
		check(os.WriteFile(filepath.Join(dir, name), data, 0o644))
		fmt.Fprintf(m, "%s\t%s\t%s\n", id, form, name)
	}
	id, sec := newKey("AKIA")
	write("base64: Kubernetes Secret", "k8s-secret.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws\ndata:\n  AWS_ACCESS_KEY_ID: "+b64(id)+"\n  AWS_SECRET_ACCESS_KEY: "+b64(sec)+"\n"), id)
	id, sec = newKey("AKIA")
	write("base64: env file in a CI variable", "ci-vars.yml", []byte("variables:\n  DOTENV_B64: "+b64("AWS_ACCESS_KEY_ID="+id+"\nAWS_SECRET_ACCESS_KEY="+sec+"\n")+"\n"), id)
	id, sec = newKey("AKIA")
	write("YAML block scalars", "values.yaml", []byte("aws:\n  accessKeyId: >-\n    "+id+"\n  secretAccessKey: |-\n    "+sec+"\n"), id)
	id, sec = newKey("AKIA")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + sec + "\n"))
	check(zw.Close())
	write("compressed: .gz", "credentials.gz", gz.Bytes(), id)
	id, sec = newKey("AKIA")
	core := append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0, 1, 0xfe}, 4000)...)
	core = append(core, []byte("HOME=/root\x00AWS_ACCESS_KEY_ID="+id+"\x00AWS_SECRET_ACCESS_KEY="+sec+"\x00")...)
	write("binary: core dump environment", "core", append(core, bytes.Repeat([]byte{0, 2}, 1000)...), id)
	id, sec = newKey("AKIA")
	u16 := []byte{0xff, 0xfe}
	for _, c := range []byte("$Env:AWS_ACCESS_KEY_ID=\"" + id + "\"\r\n$Env:AWS_SECRET_ACCESS_KEY=\"" + sec + "\"\r\n") {
		u16 = append(u16, c, 0)
	}
	write("UTF-16 (stdin)", "profile.ps1.stdin", u16, id)
	id, sec = newKey("AKIA")
	var u16n []byte
	for _, c := range []byte("$Env:AWS_ACCESS_KEY_ID=\"" + id + "\"\r\n$Env:AWS_SECRET_ACCESS_KEY=\"" + sec + "\"\r\n") {
		u16n = append(u16n, c, 0)
	}
	write("UTF-16 without BOM (stdin)", "profile-nobom.ps1.stdin", u16n, id)
	// Base64 wrapped over lines: the base64 tool's 76 columns, and a value
	// folded under a block scalar in a manifest.
	wrap := func(enc string, width int, indent string) string {
		var b strings.Builder
		for len(enc) > 0 {
			n := min(width, len(enc))
			b.WriteString(indent + enc[:n] + "\n")
			enc = enc[n:]
		}
		return b.String()
	}
	id, sec = newKey("AKIA")
	write("base64: wrapped at 76 columns", "credentials.b64", []byte(wrap(b64("# backup\n[default]\nregion = eu-west-1\naws_access_key_id = "+id+"\naws_secret_access_key = "+sec+"\n"), 76, "")), id)
	id, sec = newKey("AKIA")
	write("base64: folded in a Kubernetes manifest", "k8s-folded.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  app.env: >-\n"+wrap(b64("APP_ENV=prod\nAWS_ACCESS_KEY_ID="+id+"\nAWS_SECRET_ACCESS_KEY="+sec+"\n"), 60, "    ")), id)
	// Compressed with the bzip2, xz and zstd tools: the script compresses
	// these (and removes the clear copies).
	for _, ext := range []string{"bz2", "xz", "zst"} {
		id, sec = newKey("AKIA")
		check(os.WriteFile(filepath.Join(dir, "credentials-"+ext), []byte("[default]\naws_access_key_id = "+id+"\naws_secret_access_key = "+sec+"\n"), 0o644))
		fmt.Fprintf(m, "%s\tcompressed: .%s\tcredentials-%s.%s\n", id, ext, ext, ext)
	}
	// The files AWS tooling writes credentials into.
	tokenOf := func() string {
		raw := make([]byte, 300)
		_, _ = chacha.Read(raw)
		return "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(raw)
	}
	id, sec = newKey("ASIA")
	write("credential_process output", "credential-process.json", []byte(`{"Version": 1, "AccessKeyId": "`+id+`", "SecretAccessKey": "`+sec+`", "SessionToken": "`+tokenOf()+`", "Expiration": "2026-12-03T12:00:00Z"}`+"\n"), id)
	id, sec = newKey("ASIA")
	write("~/.aws/cli/cache (assume-role)", "cli-cache-role.json", []byte(`{"Credentials": {"AccessKeyId": "`+id+`", "SecretAccessKey": "`+sec+`", "SessionToken": "`+tokenOf()+`", "Expiration": "2026-12-03T12:00:00+00:00"}, "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLEROLEID123:botocore-session-1", "Arn": "arn:aws:sts::123456789012:assumed-role/r/botocore-session-1"}}`), id)
	id, sec = newKey("ASIA")
	write("~/.aws/cli/cache (SSO role)", "cli-cache-sso.json", []byte(`{"ProviderType": "sso", "Credentials": {"AccessKeyId": "`+id+`", "SecretAccessKey": "`+sec+`", "SessionToken": "`+tokenOf()+`", "Expiration": "2026-12-03T20:00:00Z"}}`), id)
	// Amazon Bedrock API keys: long-term (ABSK + base64 of the IAM
	// service-specific credential) and short-term (a presigned URL); the
	// manifest's "ID" is the key itself.
	raw := make([]byte, 44)
	_, _ = chacha.Read(raw)
	long := "ABSK" + b64(fmt.Sprintf("BedrockAPIKey-%04x-at-%012d:%s", rng.IntN(1<<16), rng.Int64N(1e12), base64.StdEncoding.EncodeToString(raw)))
	write("Bedrock API key, long-term", "bedrock-long.env", []byte("AWS_BEARER_TOKEN_BEDROCK="+long+"\n"), long)
	asia, _ := newKey("ASIA")
	q := url.Values{"Action": {"CallWithBearerToken"}, "X-Amz-Algorithm": {"AWS4-HMAC-SHA256"},
		"X-Amz-Credential": {asia + "/20261203/us-east-1/bedrock/aws4_request"}, "X-Amz-Date": {"20261203T080000Z"},
		"X-Amz-Expires": {"43200"}, "X-Amz-Security-Token": {tokenOf()}, "X-Amz-SignedHeaders": {"host"},
		"X-Amz-Signature": {fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())}}
	short := "bedrock-api-key-" + b64("bedrock.amazonaws.com/?"+q.Encode()+"&Version=1")
	write("Bedrock API key, short-term", "bedrock-short.sh", []byte("export AWS_BEARER_TOKEN_BEDROCK="+short+"\n"), short)
	write("near-miss: Bedrock placeholder", "bedrock-doc.md", []byte("Set `AWS_BEARER_TOKEN_BEDROCK=ABSKQmVkcm9ja0FQSUtleS0...` (your key).\n"), "-")
	id, sec = newKey("AKIA")
	fmt.Fprintf(m, "%s\tcommit message\t-\n", id)
	check(os.WriteFile(filepath.Join(dir, "commit-message.txt"), []byte("rotate deploy key\n\nAWS_ACCESS_KEY_ID="+id+"\nAWS_SECRET_ACCESS_KEY="+sec+"\n"), 0o644))
	// Near-misses: an Alibaba Cloud STS token, an SDK test's fake key, a
	// 40-letter sentence under an "AWS Secret Access Key" comment.
	tok := make([]byte, 300)
	_, _ = chacha.Read(tok)
	write("near-miss: Alibaba STS token", "alibaba_sts_test.json", []byte("{\"Credentials\": {\"AccessKeyId\": \"STS.NUgYrLnoC37mZZCNnAbez2nNW\", \"SecurityToken\": \"CAIS"+base64.StdEncoding.EncodeToString(tok)+"\"}}\n"), "-")
	_, sec = newKey("AKIA")
	write("near-miss: fake ID next to a secret", "v4a_test.go", []byte("package v4a\n\nimport \"github.com/aws/aws-sdk-go-v2/aws\"\n\nconst (\n\taccessKey = \"AKISORANDOMAASORANDOM\"\n\tsecretKey = \""+sec+"\"\n)\n\nvar _ aws.Config\n"), "-")
	write("near-miss: 40-letter sentence", "sentence_test.go", []byte("package x\n\n// AWS Secret Access Key\nconst testSecret = \"ThisSequenceIsExactlyTheRightLengthToUse\"\n"), "-")
}

// stream writes a git fast-import stream.
type stream struct {
	w    *bufio.Writer
	mark int
	time int64
}

func (s *stream) blobCmd(path string, data []byte) {
	fmt.Fprintf(s.w, "M 100644 inline %s\ndata %d\n", quotePath(path), len(data))
	s.w.Write(data)
	s.w.WriteByte('\n')
}

func quotePath(p string) string {
	if strings.ContainsAny(p, "\"\n\\ ") {
		return strconv.Quote(p)
	}
	return p
}

// commit starts a commit on ref with the given parents; the caller then
// writes file commands. It returns the commit's mark.
func (s *stream) commit(ref, msg string, from int, merges ...int) int {
	s.mark++
	s.time += 600 + rng.Int64N(600)
	who := []string{"Ada Lovelace <ada@example.com>", "Alan Turing <alan@example.com>", "Grace Hopper <grace@example.com>"}[rng.IntN(3)]
	fmt.Fprintf(s.w, "commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n",
		ref, s.mark, who, s.time, who, s.time, len(msg), msg)
	if from > 0 {
		fmt.Fprintf(s.w, "from :%d\n", from)
	}
	for _, m := range merges {
		fmt.Fprintf(s.w, "merge :%d\n", m)
	}
	return s.mark
}

// history writes a fast-import stream of a repository of n commits on
// main, built from the text files of src: files are added, edited (a line
// inserted at a time, like real edits), renamed and deleted; keys are added
// and removed a few commits later, planted in files deleted later, and on
// side branches, some merged, some never.
func history(src string, n int, manifest string) {
	files := textFiles(src, 256<<10)
	m, err := os.Create(manifest)
	check(err)
	defer m.Close()
	s := &stream{w: bufio.NewWriterSize(os.Stdout, 1<<20), time: 1500000000}
	defer s.w.Flush()

	state := map[string][]byte{}
	var paths []string
	removePath := func(i int) {
		delete(state, paths[i])
		paths[i] = paths[len(paths)-1]
		paths = paths[:len(paths)-1]
	}
	type removal struct{ path, text string }
	removals := map[int][]removal{}
	deletions := map[int][]string{}
	next := 0
	head := 0
	sideN := 0
	for i := 0; i < n; i++ {
		type change struct {
			path string
			data []byte // nil: delete
		}
		var changes []change
		set := func(p string, d []byte) {
			if _, ok := state[p]; !ok {
				paths = append(paths, p)
			}
			state[p] = d
			changes = append(changes, change{p, d})
		}
		// New files: many early on, a trickle later.
		if next < len(files) && (i < n/5 || rng.IntN(10) == 0) {
			for k := 1 + rng.IntN(4); k > 0 && next < len(files); k-- {
				data, err := os.ReadFile(files[next])
				check(err)
				rel, _ := filepath.Rel(src, files[next])
				next++
				if isText(data) {
					set(rel, data)
				}
			}
		}
		// Edits: a line inserted into one or two files.
		for k := 1 + rng.IntN(2); k > 0 && len(paths) > 0; k-- {
			p := paths[rng.IntN(len(paths))]
			d, _ := insertAt(state[p], fmt.Sprintf("// edit %d: %x\n", i, rng.Uint64()))
			set(p, d)
		}
		// A key now and then, removed again a few commits later.
		if i%40 == 7 && len(paths) > 0 {
			p := paths[rng.IntN(len(paths))]
			text, id := snippet()
			d, line := insertAt(state[p], text)
			set(p, d)
			fmt.Fprintf(m, "%s\tcommit %d %s:%d\n", id, i, p, line)
			at := i + 3 + rng.IntN(30)
			removals[at] = append(removals[at], removal{p, text})
		}
		for _, r := range removals[i] {
			if d, ok := state[r.path]; ok && bytes.Contains(d, []byte(r.text)) {
				set(r.path, bytes.Replace(d, []byte(r.text), nil, 1))
			}
		}
		delete(removals, i)
		// A file with a key, deleted later; renames; deletions.
		if i%500 == 250 {
			text, id := snippet()
			p := fmt.Sprintf("deploy/creds-%d.env", i)
			set(p, []byte("# temporary\n"+text))
			fmt.Fprintf(m, "%s\tcommit %d %s (deleted later)\n", id, i, p)
			deletions[i+20] = append(deletions[i+20], p)
		}
		for _, p := range deletions[i] {
			for j := range paths {
				if paths[j] == p {
					changes = append(changes, change{p, nil})
					removePath(j)
					break
				}
			}
		}
		delete(deletions, i)
		if i%150 == 149 && len(paths) > 0 {
			j := rng.IntN(len(paths))
			changes = append(changes, change{paths[j], nil})
			removePath(j)
		}
		if i%300 == 100 && len(paths) > 0 {
			j := rng.IntN(len(paths))
			old, data := paths[j], state[paths[j]]
			changes = append(changes, change{old, nil})
			removePath(j)
			set("moved/"+old, data)
		}
		var merge []int
		if i%400 == 399 {
			// A side branch of three commits; even ones are merged.
			sideN++
			ref := fmt.Sprintf("refs/heads/side-%d", sideN)
			parent := head
			var sideFiles []change
			for k := 0; k < 3; k++ {
				body := fmt.Sprintf("notes %d/%d\n", sideN, k)
				if k == 1 {
					text, id := snippet()
					body += text
					fate := "merged"
					if sideN%2 == 1 {
						fate = "never merged"
					}
					fmt.Fprintf(m, "%s\tside-%d (%s)\n", id, sideN, fate)
				}
				c := change{fmt.Sprintf("side/%d/notes-%d.md", sideN, k), []byte(body)}
				parent = s.commit(ref, fmt.Sprintf("side %d.%d", sideN, k), parent)
				s.blobCmd(c.path, c.data)
				sideFiles = append(sideFiles, c)
			}
			if sideN%2 == 0 {
				merge = []int{parent}
				for _, c := range sideFiles {
					set(c.path, c.data)
				}
			}
		}
		head = s.commit("refs/heads/main", fmt.Sprintf("change %d", i), head, merge...)
		for _, c := range changes {
			if c.data == nil {
				fmt.Fprintf(s.w, "D %s\n", quotePath(c.path))
				continue
			}
			if cur, ok := state[c.path]; ok && !bytes.Equal(cur, c.data) {
				continue // changed again in this commit: only the last counts
			}
			s.blobCmd(c.path, c.data)
		}
		s.w.WriteByte('\n')
	}
}
GOSRC
(cd "$gen" && GOFLAGS=-mod=mod go build -o "$WORK/bin/corpusgen" .)

gitleaks=""
if [ "${GITLEAKS:-1}" = 0 ]; then
	echo "GITLEAKS=0: no peer figures"
elif command -v gitleaks >/dev/null && gitleaks version 2>/dev/null | grep -q "${GITLEAKS_VERSION#v}"; then
	gitleaks=$(command -v gitleaks)
elif GOBIN="$WORK/bin" GOFLAGS= go install "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION" 2>"$WORK/out/gitleaks-install.log"; then
	gitleaks="$WORK/bin/gitleaks"
else
	echo "gitleaks $GITLEAKS_VERSION could not be installed (see $WORK/out/gitleaks-install.log): no peer figures"
fi

trufflehog=""
case "${TRUFFLEHOG:-path}" in
0) echo "TRUFFLEHOG=0: no trufflehog figures" ;;
build)
	if [ ! -x "$WORK/bin/trufflehog" ]; then
		say "building trufflehog $TRUFFLEHOG_VERSION from the module proxy (slow the first time)"
		thsrc=$(GOFLAGS= go mod download -json "github.com/trufflesecurity/trufflehog/v3@$TRUFFLEHOG_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		rm -rf "$WORK/trufflehog-src"
		cp -r "$thsrc" "$WORK/trufflehog-src"
		chmod -R u+w "$WORK/trufflehog-src"
		(cd "$WORK/trufflehog-src" && GOFLAGS=-mod=mod go build -o "$WORK/bin/trufflehog" .) 2>"$WORK/out/trufflehog-build.log" ||
			echo "trufflehog $TRUFFLEHOG_VERSION did not build (see $WORK/out/trufflehog-build.log)"
	fi
	[ -x "$WORK/bin/trufflehog" ] && trufflehog="$WORK/bin/trufflehog"
	;;
*) command -v trufflehog >/dev/null && trufflehog=$(command -v trufflehog) ;;
esac

say "corpus"
src=$(go env GOROOT)/src
rm -rf "$WORK/tree"
cp -r "$src" "$WORK/tree"
corpusgen plant "$WORK/tree" "$PLANTS" "$WORK/tree-keys.tsv"
printf 'tree:    %s (%s files, %s), %s keys planted\n' "$WORK/tree" \
	"$(find "$WORK/tree" -type f | wc -l)" "$(du -sh "$WORK/tree" | cut -f1)" "$(wc -l <"$WORK/tree-keys.tsv")"

hist="$WORK/history"
stamp="$COMMITS $(sha256sum "$gen/main.go" | cut -c1-16) $(go env GOVERSION)"
if [ "$(cat "$hist/.bench-stamp" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$hist"
	git init -q -b main "$hist"
	corpusgen history "$src" "$COMMITS" "$WORK/history-keys.tsv" | git -C "$hist" fast-import --quiet
	# fast-import deltas each blob against the one before, whatever its
	# path; a repository in use has been packed by gc instead.
	git -C "$hist" repack -adfq
	echo "$stamp" >"$hist/.bench-stamp"
fi
printf 'history: %s (%s commits, %s refs, %s distinct blobs, pack %s), %s keys planted\n' "$hist" \
	"$(git -C "$hist" rev-list --all --count)" "$(git -C "$hist" for-each-ref | wc -l)" \
	"$(git -C "$hist" rev-list --all --objects | cut -d' ' -f1 | git -C "$hist" cat-file --batch-check='%(objecttype)' | grep -c blob)" \
	"$(du -sh "$hist/.git/objects/pack" | cut -f1)" "$(wc -l <"$WORK/history-keys.tsv")"

# measure NAME CMD...: the best wall time of $RUNS runs, and the largest
# peak RSS. Output goes to $WORK/out/NAME.out; exit codes 0 and 1 (findings)
# are both success.
declare -A secs mem
measure() {
	local name=$1 best="" peak=0 i s m rc
	shift
	for ((i = 0; i < ${MRUNS:-$RUNS}; i++)); do
		rc=0
		/usr/bin/time -f '%e %M' -o "$WORK/out/$name.time" "$@" >"$WORK/out/$name.out" 2>"$WORK/out/$name.err" || rc=$?
		if [ "$rc" -gt 1 ]; then
			echo "$name failed (exit $rc):" >&2
			tail -5 "$WORK/out/$name.err" >&2
			exit 1
		fi
		read -r s m < <(tail -1 "$WORK/out/$name.time")
		if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
		if [ "$m" -gt "$peak" ]; then peak=$m; fi
	done
	secs[$name]=$best
	mem[$name]=$((peak / 1024))
	printf '  %-22s %7.2f s  %5d MB\n' "$name" "$best" "$((peak / 1024))"
}
ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN{ if (b < 0.01) b = 0.01; printf "%.2f", a / b }'; }

# found NAME MANIFEST: how many planted key IDs are in NAME's output.
found() {
	local missing
	missing=$(cut -f1 "$2" | sort -u | comm -23 - <(grep -oE "$KEY_RE" "$WORK/out/$1.out" | sort -u))
	echo "$(($(cut -f1 "$2" | sort -u | wc -l) - $(printf '%s' "$missing" | grep -c . || true)))/$(cut -f1 "$2" | sort -u | wc -l)"
	if [ -n "$missing" ]; then
		printf '%s\n' "$missing" >"$WORK/out/$1.missing"
	fi
}

say "machine: $(nproc) cores, $(git --version), $(rg --version 2>/dev/null | head -1), $(go env GOVERSION), keywarden $(keywarden version | cut -d' ' -f2)${gitleaks:+, gitleaks $GITLEAKS_VERSION}"

say "tree: $WORK/tree"
measure rg rg --no-ignore --hidden -o -N "$KEY_RE" "$WORK/tree"
measure keywarden-tree keywarden scan --format json --show-secrets "$WORK/tree"
# The Go tree's testdata holds deliberately broken archives: with
# --archives they are input errors (exit 2), which is no failure here.
measure keywarden-tree-archives sh -c 'keywarden scan --archives --format json --show-secrets "$1"; [ $? -le 2 ]' sh "$WORK/tree"
if [ -n "$gitleaks" ]; then
	MRUNS=$PEER_RUNS measure gitleaks-tree "$gitleaks" dir --no-banner --log-level error --report-format json \
		--report-path "$WORK/out/gitleaks-tree.json" --exit-code 0 "$WORK/tree"
	cp "$WORK/out/gitleaks-tree.json" "$WORK/out/gitleaks-tree.out"
fi

if [ -n "$trufflehog" ]; then
	MRUNS=$PEER_RUNS measure trufflehog-tree "$trufflehog" filesystem --no-verification --no-update --json --log-level=-1 "$WORK/tree"
fi

say "history: $hist"
measure git-log-p sh -c "git -C '$hist' log -p --all >/dev/null"
measure keywarden-git keywarden scan --git --repo "$hist" --format json --show-secrets
if [ -n "$gitleaks" ]; then
	MRUNS=$PEER_RUNS measure gitleaks-git "$gitleaks" git --no-banner --log-level error --report-format json \
		--report-path "$WORK/out/gitleaks-git.json" --exit-code 0 "$hist"
	cp "$WORK/out/gitleaks-git.json" "$WORK/out/gitleaks-git.out"
fi

if [ -n "$trufflehog" ]; then
	MRUNS=$PEER_RUNS measure trufflehog-git "$trufflehog" git --no-verification --no-update --json --log-level=-1 "file://$hist"
fi

say "hook: keywarden scan --staged on a one-file commit"
small="$WORK/small"
rm -rf "$small"
git init -q -b main "$small"
cp -r "$src/net/http/." "$small/"
git -C "$small" add -A
git -C "$small" -c user.name=bench -c user.email=bench@example.com commit -qm base --no-verify
echo "// one more line" >>"$small/server.go"
git -C "$small" add server.go
# min_med N CMD...: run CMD N times (output discarded); print the fastest
# and the median wall time in ms.
min_med() {
	local runs=$1 i a b
	shift
	for ((i = 0; i < runs; i++)); do
		a=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		b=$(date +%s%N)
		echo $(((b - a) / 1000))
	done | sort -n | awk '{v[NR] = $1} END {printf "%.1f %.1f\n", v[1] / 1000, v[int((NR + 1) / 2)] / 1000}'
}
read -r staged_min staged_med < <(cd "$small" && min_med 50 keywarden scan --staged)
read -r git_min git_med < <(cd "$small" && min_med 50 git rev-parse HEAD)
# The floor under any Go hook that runs git: a Go program that does
# nothing, timed the same way.
mkdir -p "$WORK/empty-go"
printf 'module emptygo\n\ngo 1.22\n' >"$WORK/empty-go/go.mod"
printf 'package main\n\nfunc main() {}\n' >"$WORK/empty-go/main.go"
(cd "$WORK/empty-go" && go build -o "$WORK/bin/empty-go" .)
read -r empty_min empty_med < <(cd "$small" && min_med 50 "$WORK/bin/empty-go")
printf '  keywarden scan --staged: %s ms fastest, %s ms median of 50 (git rev-parse alone: %s / %s ms; an empty Go program: %s / %s ms)\n' \
	"$staged_min" "$staged_med" "$git_min" "$git_med" "$empty_min" "$empty_med"
staged_ms=$staged_med
keywarden hook install -C "$small" >/dev/null
commit_n=0
commit_once() { # commit a one-line change, with the hook or (--no-verify) without
	commit_n=$((commit_n + 1))
	echo "// line $commit_n" >>"$small/server.go"
	git -C "$small" add server.go
	git -C "$small" -c user.name=bench -c user.email=bench@example.com commit -qm "c$commit_n" "$@"
}
read -r with_min with_med < <(min_med 30 commit_once)
read -r without_min without_med < <(min_med 30 commit_once --no-verify)
printf '  git commit of a one-line change: %s ms with the hook, %s ms without (medians of 30): the hook adds %s ms\n' \
	"$with_med" "$without_med" "$(awk -v a="$with_med" -v b="$without_med" 'BEGIN{printf "%.1f", a - b}')"

say "forms: $WORK/forms (issue 17), with --archives"
rm -rf "$WORK/forms" "$WORK/forms-git"
corpusgen forms "$WORK/forms" "$WORK/forms-keys.tsv"
git init -q -b main "$WORK/forms-git"
git -C "$WORK/forms-git" -c user.name=bench -c user.email=bench@example.com commit -q --allow-empty -F "$WORK/forms/commit-message.txt"
rm "$WORK/forms/commit-message.txt"
bzip2 "$WORK/forms/credentials-bz2"
xz "$WORK/forms/credentials-xz"
zstd -q --rm "$WORK/forms/credentials-zst"
MRUNS=1 measure keywarden-forms keywarden scan --archives --fail-on none --format json --show-secrets --exclude '*.stdin' "$WORK/forms"
: >"$WORK/out/keywarden-forms-stdin.out"
for f in "$WORK/forms/"*.stdin; do
	keywarden scan --format json --show-secrets - <"$f" >>"$WORK/out/keywarden-forms-stdin.out" || true
done
keywarden scan --git --repo "$WORK/forms-git" --format json --show-secrets >"$WORK/out/keywarden-forms-git.out" || true
cat "$WORK/out/keywarden-forms-stdin.out" "$WORK/out/keywarden-forms-git.out" >>"$WORK/out/keywarden-forms.out"
peers=(keywarden)
if [ -n "$gitleaks" ]; then
	"$gitleaks" dir --no-banner --log-level error --report-format json --report-path "$WORK/out/gitleaks-forms.out" --exit-code 0 "$WORK/forms" || true
	"$gitleaks" git --no-banner --log-level error --report-format json --report-path "$WORK/out/gitleaks-forms-git.json" --exit-code 0 "$WORK/forms-git" || true
	cat "$WORK/out/gitleaks-forms-git.json" >>"$WORK/out/gitleaks-forms.out"
	peers+=(gitleaks)
fi
if [ -n "$trufflehog" ]; then
	"$trufflehog" filesystem --json --no-verification --no-update "$WORK/forms" >"$WORK/out/trufflehog-forms.out" 2>/dev/null || true
	"$trufflehog" git --json --no-verification --no-update "file://$WORK/forms-git" >>"$WORK/out/trufflehog-forms.out" 2>/dev/null || true
	peers+=(trufflehog)
fi
# Per form: "yes" when the tool's output holds the planted ID in clear
# (keywarden and gitleaks report decoded values), and for keywarden paired
# with its secret ("ID only" when it lists the ID alone); for a near-miss,
# the number of findings in its file (want 0).
printf '  %-40s' form; printf ' %-10s' "${peers[@]}"; echo
forms_missed=0
while IFS=$'\t' read -r id form file; do
	printf '  %-40s' "$form"
	for p in "${peers[@]}"; do
		if [ "$id" = - ]; then
			n=$(grep -c "$file" "$WORK/out/$p-forms.out" || true)
			printf ' %-10s' "$n alarms"
			if [ "$p" = keywarden ] && [ "$n" -gt 0 ]; then forms_missed=1; fi
		elif [ "$p" = keywarden ] && [[ $id =~ ^$KEY_RE$ ]] && ! grep -qE "\"evidence\": \"$id [A-Za-z0-9/+]{40}\"" "$WORK/out/$p-forms.out"; then
			# keywarden must pair the ID with its secret, not list it alone.
			if grep -q "$id" "$WORK/out/$p-forms.out"; then printf ' %-10s' "ID only"; else printf ' %-10s' no; fi
			forms_missed=1
		elif grep -q "$id" "$WORK/out/$p-forms.out"; then
			printf ' %-10s' yes
		else
			printf ' %-10s' no
			if [ "$p" = keywarden ]; then forms_missed=1; fi
		fi
	done
	echo
done <"$WORK/forms-keys.tsv"

say "summary"
printf '  tree:    keywarden %.2f s = %s x ripgrep (goal <= 2.5); with --archives %.2f s = %s x ripgrep, %s x without' \
	"${secs[keywarden-tree]}" "$(ratio keywarden-tree rg)" "${secs[keywarden-tree-archives]}" "$(ratio keywarden-tree-archives rg)" "$(ratio keywarden-tree-archives keywarden-tree)"
[ -n "$gitleaks" ] && printf '; gitleaks %.2f s = %s x keywarden' "${secs[gitleaks-tree]}" "$(ratio gitleaks-tree keywarden-tree)"
[ -n "$trufflehog" ] && printf '; trufflehog %.2f s = %s x keywarden' "${secs[trufflehog-tree]}" "$(ratio trufflehog-tree keywarden-tree)"
printf '\n  history: keywarden %.2f s = %s x git log -p --all (goal <= 0.5)' "${secs[keywarden-git]}" "$(ratio keywarden-git git-log-p)"
[ -n "$gitleaks" ] && printf '; gitleaks %.2f s = %s x keywarden' "${secs[gitleaks-git]}" "$(ratio gitleaks-git keywarden-git)"
[ -n "$trufflehog" ] && printf '; trufflehog %.2f s = %s x keywarden' "${secs[trufflehog-git]}" "$(ratio trufflehog-git keywarden-git)"
printf '\n  peak memory: keywarden %d MB (tree), %d MB (history) (goal < 300)\n' "${mem[keywarden-tree]}" "${mem[keywarden-git]}"
tree_found=$(found keywarden-tree "$WORK/tree-keys.tsv")
hist_found=$(found keywarden-git "$WORK/history-keys.tsv")
printf '  planted keys found by keywarden: tree %s, history %s\n' "$tree_found" "$hist_found"
if [ -n "$gitleaks" ]; then
	printf '  planted keys found by gitleaks:  tree %s, history %s\n' \
		"$(found gitleaks-tree "$WORK/tree-keys.tsv")" "$(found gitleaks-git "$WORK/history-keys.tsv")"
fi
if [ -n "$trufflehog" ]; then
	printf '  planted keys found by trufflehog: tree %s, history %s\n' \
		"$(found trufflehog-tree "$WORK/tree-keys.tsv")" "$(found trufflehog-git "$WORK/history-keys.tsv")"
fi
printf '  staged scan: %s ms median (goal < 20)\n' "$staged_ms"
status=$forms_missed
for f in keywarden-tree keywarden-git; do
	if [ -s "$WORK/out/$f.missing" ]; then
		echo "MISSED by $f: $(wc -l <"$WORK/out/$f.missing") planted keys, listed in $WORK/out/$f.missing" >&2
		status=1
	fi
done
exit $status

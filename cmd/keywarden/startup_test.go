package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Every command pays for the initialisation of every package linked into
// the binary before main runs, the pre-commit hook's `keywarden scan
// --staged` among them (issue 17 wants it under 20 ms). These budgets keep
// that work from growing back: tables, templates and regular expressions
// are built on first use (sync.OnceValue), not at start.
const (
	// ownInitBudget is what one of keywarden's packages may allocate at
	// start. internal/cli stays under it although it reads the build
	// information for the version.
	ownInitBudget = 16 << 10
	// totalInitBudget is what all packages together may allocate at start
	// in the test binary (which also links testscript and the test
	// helpers). The AWS SDK's internal/endpoints tables, about 80 KB per
	// service client, are most of it.
	totalInitBudget = 2600 << 10
)

// TestStartupInitBudget runs `keywarden version` with GODEBUG=inittrace=1
// and checks what package initialisation allocates.
func TestStartupInitBudget(t *testing.T) {
	exe, err := exec.LookPath("keywarden") // testscript.Main put it on PATH
	if err != nil {
		t.Fatalf("keywarden not on PATH: %v", err)
	}
	cmd := exec.Command(exe, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("keywarden version: %v\n%s", err, stderr.Bytes())
	}
	inits, err := parseInitTrace(stderr.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(inits) == 0 {
		t.Fatalf("no init trace in stderr:\n%s", stderr.Bytes())
	}
	total := 0
	for _, in := range inits {
		total += in.Bytes
		switch {
		case strings.HasPrefix(in.Pkg, "github.com/aws/aws-sdk-go-v2/service/") && strings.HasSuffix(in.Pkg, "/schemas") && !sdkSchemasRequired[in.Pkg]:
			t.Errorf("%s is linked (%d bytes, %d allocations at start): pin the service module to a release without schema serde (go.mod)", in.Pkg, in.Bytes, in.Allocs)
		case strings.HasPrefix(in.Pkg, "github.com/keywarden/keywarden/") && in.Bytes > ownInitBudget:
			t.Errorf("%s allocates %d bytes (%d allocations) at start, budget %d: build it on first use (sync.OnceValue)", in.Pkg, in.Bytes, in.Allocs, ownInitBudget)
		}
	}
	t.Logf("package initialisation: %d packages, %d bytes", len(inits), total)
	if total > totalInitBudget {
		t.Errorf("package initialisation allocates %d bytes in all, budget %d", total, totalInitBudget)
	}
}

// sdkSchemasRequired are the schema packages of service modules whose
// minimum version the SDK's config and credentials modules set.
var sdkSchemasRequired = map[string]bool{
	"github.com/aws/aws-sdk-go-v2/service/signin/schemas":  true,
	"github.com/aws/aws-sdk-go-v2/service/sso/schemas":     true,
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/schemas": true,
}

// pkgInit is one line of the runtime's init trace.
type pkgInit struct {
	Pkg           string
	Bytes, Allocs int
}

// parseInitTrace reads the lines GODEBUG=inittrace=1 writes, of the form
//
//	init net/http @1.2 ms, 0.10 ms clock, 4712 bytes, 49 allocs
//
// and skips every other line.
func parseInitTrace(data []byte) ([]pkgInit, error) {
	var out []pkgInit
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		b, err1 := strconv.Atoi(f[7])
		a, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("init trace line %d: %q: counts are not numbers", n, sc.Text())
		}
		out = append(out, pkgInit{Pkg: f[1], Bytes: b, Allocs: a})
	}
	return out, sc.Err()
}

func TestParseInitTrace(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []pkgInit
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"lines", "init runtime @1.7 ms, 1.7 ms clock, 0 bytes, 0 allocs\ninit net/http @42 ms, 0.10 ms clock, 4712 bytes, 49 allocs\n",
			[]pkgInit{{"runtime", 0, 0}, {"net/http", 4712, 49}}, false},
		{"other output skipped", "keywarden v1.2.3\ninit a @1 ms, 1 ms clock, 8 bytes, 1 allocs\ngc 1 @0.3s 0%: ...\n",
			[]pkgInit{{"a", 8, 1}}, false},
		{"bad count", "init a @1 ms, 1 ms clock, x bytes, 1 allocs\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInitTrace([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

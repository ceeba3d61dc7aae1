// Package sariftest validates SARIF output against the official SARIF 2.1.0
// JSON schema in tests. The schema is not committed: CI fetches it (see
// .ci/deps.d) and names it in KEYWARDEN_SARIF_SCHEMA.
package sariftest

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Validate fails the test when data is not a valid SARIF 2.1.0 log. It
// skips when no schema is available, and fails instead when CI=true, since
// CI always provides one.
func Validate(t testing.TB, data []byte) {
	t.Helper()
	path := os.Getenv("KEYWARDEN_SARIF_SCHEMA")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KEYWARDEN_SARIF_SCHEMA is not set in CI")
		}
		t.Skip("KEYWARDEN_SARIF_SCHEMA not set: skipping SARIF schema validation (.ci/deps.d/10-sarif-schema.sh fetches it)")
	}
	schemaData, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaData))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SARIF output is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF output does not match the 2.1.0 schema: %v", err)
	}
	var log struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &log); err != nil || log.Version != "2.1.0" {
		t.Fatalf("SARIF version = %q, %v", log.Version, err)
	}
}

package iameval

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBatchContextValues(t *testing.T) {
	for raw, want := range map[string]string{`"a"`: "a", `true`: "true", `3600`: "3600", `1.50`: "1.50", `["a","b"]`: "a,b"} {
		vals, _, err := batchContextValue(json.RawMessage(raw))
		if err != nil || strings.Join(vals, ",") != want {
			t.Errorf("%s: %v %v, want %s", raw, vals, err, want)
		}
	}
	for _, raw := range []string{`{"a":1}`, `[["a"]]`, `null`} {
		if _, _, err := batchContextValue(json.RawMessage(raw)); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

// TestDecodeBatchRequest decodes the requests of testdata/batch/requests.jsonl
// and evaluates them: each line's "want" field (outside the contract, so
// removed before decoding) is the decision AWS documents, or the start of
// the error.
func TestDecodeBatchRequest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "batch", "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rd := NewBatchReader(strings.NewReader(string(data)), 0)
	n := 0
	for {
		line, lineNo, tooLong, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil || tooLong {
			t.Fatalf("line %d: %v %v", lineNo, err, tooLong)
		}
		n++
		var meta map[string]json.RawMessage
		if err := json.Unmarshal(line, &meta); err != nil {
			t.Fatalf("line %d: %v", lineNo, err)
		}
		var want, name string
		_ = json.Unmarshal(meta["want"], &want)
		_ = json.Unmarshal(meta["name"], &name)
		delete(meta, "want")
		delete(meta, "name")
		clean, _ := json.Marshal(meta)
		t.Run(name, func(t *testing.T) {
			item, err := DecodeBatchRequest(clean)
			if strings.HasPrefix(want, "error: ") {
				if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
					t.Fatalf("error %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res := CompileSet(item.Set).Evaluate(item.Request, Options{})
			if res.Decision.String() != want {
				t.Errorf("%s, want %s: %s", res.Decision, want, res.Reason)
			}
		})
	}
	if n == 0 {
		t.Fatal("no requests read")
	}
}

func TestBatchReader(t *testing.T) {
	in := "{\"a\":1}\n\n   \n" + strings.Repeat("x", 100) + "\n{\"b\":2}" // no final newline
	rd := NewBatchReader(strings.NewReader(in), 50)
	type got struct {
		line    string
		no      int
		tooLong bool
	}
	var out []got
	for {
		line, no, tooLong, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got{strings.TrimSpace(string(line)), no, tooLong})
	}
	want := []got{{`{"a":1}`, 1, false}, {"", 4, true}, {`{"b":2}`, 5, false}}
	if len(out) != len(want) {
		t.Fatalf("%+v, want %+v", out, want)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, out[i], want[i])
		}
	}
}

// FuzzDecodeBatchRequest feeds hostile lines to the decoder: it never
// panics, and a line it accepts always evaluates.
func FuzzDecodeBatchRequest(f *testing.F) {
	f.Add([]byte(`{"action":"s3:GetObject","resource":"arn:aws:s3:::b/k","principal":"arn:aws:iam::111122223333:user/alice","context":{"aws:TagKeys":["a"],"n":1,"b":true},"identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}],"scps":[[{"Statement":[]}]],"resourcePolicy":{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"*"}}}`))
	f.Add([]byte(`{"action":"s3:GetObject","anonymous":true,"resourcePolicy":{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}}`))
	f.Add([]byte(`{"action":"kms:Decrypt","sessionPolicy":{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}},"vpcEndpointPolicy":null,"rcps":[[]]}`))
	f.Add([]byte(`{"action":1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		item, err := DecodeBatchRequest(line)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		res := CompileSet(item.Set).Evaluate(item.Request, Options{})
		if res.Decision.String() == "" {
			t.Fatal("no decision")
		}
	})
}

// A writer of the contract (the audit, the responder) marshals a
// BatchRequest; the decoder reads back the same request.
func TestBatchRequestRoundTrip(t *testing.T) {
	in := BatchRequest{
		Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Anonymous: true,
		Context:        map[string]json.RawMessage{"aws:SecureTransport": json.RawMessage(`true`), "aws:TagKeys": json.RawMessage(`["a"]`)},
		ResourcePolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`),
	}
	line, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	item, err := DecodeBatchRequest(line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if item.Request.Principal != AnonymousPrincipal || item.Request.Action != in.Action || item.Request.Resource != in.Resource {
		t.Errorf("request %+v", item.Request)
	}
	if vals, ok := item.Request.Context.Get("aws:TagKeys"); !ok || len(vals) != 1 || vals[0] != "a" {
		t.Errorf("aws:TagKeys %v %v", vals, ok)
	}
	if res := CompileSet(item.Set).Evaluate(item.Request, Options{}); res.Decision != Allowed {
		t.Errorf("%s: %s", res.Decision, res.Reason)
	}
}

package detect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// benchRecords decodes every fixture (fire and miss) into records that own
// their memory, so the benchmark measures the rules, not the reader.
func benchRecords(b *testing.B) []cloudtrail.Record {
	files, _ := filepath.Glob(filepath.Join("testdata", "rules", "*", "*.json"))
	var out []cloudtrail.Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		cloudtrail.Decode(f, bytes.NewReader(data), func(r *cloudtrail.Record) {
			c := *r
			for _, s := range []*string{&c.EventSource, &c.EventName, &c.EventID, &c.AWSRegion, &c.SourceIPAddress, &c.UserAgent, &c.ErrorCode,
				&c.EventType, &c.UserIdentity.Type, &c.UserIdentity.ARN, &c.UserIdentity.AccessKeyID, &c.UserIdentity.UserName,
				&c.UserIdentity.PrincipalID, &c.UserIdentity.AccountID, &c.UserIdentity.InvokedBy, &c.RecipientAccount} {
				*s = strings.Clone(*s)
			}
			c.RequestParameters = bytes.Clone(r.RequestParameters)
			c.ResponseElements = bytes.Clone(r.ResponseElements)
			c.AdditionalData = bytes.Clone(r.AdditionalData)
			c.Resources = bytes.Clone(r.Resources)
			out = append(out, c)
		}, func(e *cloudtrail.InputError) { b.Fatal(e) })
	}
	return out
}

// BenchmarkEngine measures Observe over a mix of events that fire rules
// and near misses (a worst case: real logs are mostly events no rule
// names).
func BenchmarkEngine(b *testing.B) {
	recs := benchRecords(b)
	e, err := New(Builtin(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	w := e.NewWorker()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Observe(&recs[i%len(recs)])
	}
	b.StopTimer()
	_ = e.Merge(w).Findings(nil)
}

// BenchmarkEngineQuiet is the common case: events no rule names.
func BenchmarkEngineQuiet(b *testing.B) {
	recs := benchRecords(b)
	var quiet []cloudtrail.Record
	for _, r := range recs {
		if r.EventName == "DescribeInstances" {
			quiet = append(quiet, r)
		}
	}
	e, _ := New(Builtin(), Options{})
	w := e.NewWorker()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Observe(&quiet[i%len(quiet)])
	}
}

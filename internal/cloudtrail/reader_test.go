package cloudtrail

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

const rec1 = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIARTX3GSDS2RWAIZGX","userName":"alice"},"eventTime":"2024-06-03T09:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.30","requestParameters":{"userName":"bob"},"responseElements":{"accessKey":{"userName":"bob","status":"Active"}},"requestID":"r1","eventID":"e1","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}`

// Traps: source host name, booleans as strings, +00:00 time, a field
// whose type is not the usual one, an escaped string, a session.
const rec2 = `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:s","arn":"arn:aws:sts::111122223333:assumed-role/ops/s","accountId":"111122223333","accessKeyId":"ASIARTX3GSDS7LQ4MNBV","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/ops","userName":"ops"},"attributes":{"creationDate":"2024-06-03T08:00:00Z","mfaAuthenticated":"true"}},"invokedBy":"AWS Internal"},"eventTime":"2024-06-03T09:00:01+00:00","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":["not","a","string"],"sourceIPAddress":"cloudformation.amazonaws.com","userAgent":"quote \" and \u00e9","requestParameters":{"bucketName":"b","key":"k"},"responseElements":null,"eventID":"e2","readOnly":"true","managementEvent":"false"}`

func decodeAll(t *testing.T, data []byte) ([]Record, []*InputError, DecodeStats) {
	t.Helper()
	var recs []Record
	var errs []*InputError
	st := Decode("test", bytes.NewReader(data), func(r *Record) {
		c := *r
		// Copy what the test keeps: the buffer is reused.
		c.EventName = strings.Clone(r.EventName)
		c.EventID = strings.Clone(r.EventID)
		c.SourceIPAddress = strings.Clone(r.SourceIPAddress)
		c.UserAgent = strings.Clone(r.UserAgent)
		c.AWSRegion = strings.Clone(r.AWSRegion)
		c.UserIdentity.AccessKeyID = strings.Clone(r.UserIdentity.AccessKeyID)
		c.RequestParameters = bytes.Clone(r.RequestParameters)
		recs = append(recs, c)
	}, func(e *InputError) { errs = append(errs, e) })
	return recs, errs, st
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func TestDecodeShapes(t *testing.T) {
	two := rec1 + "," + rec2
	for _, tc := range []struct {
		name  string
		data  string
		shape Shape
	}{
		{"records", `{"Records":[` + two + `]}`, ShapeRecords},
		{"records with trailer", "\ufeff" + `{"Records":[` + two + `],"extra":{"x":[1,2]}}` + "\n", ShapeRecords},
		{"array", "[\n" + two + "\n]", ShapeArray},
		{"lines", rec1 + "\n" + rec2 + "\n", ShapeLines},
		{"concatenated", rec1 + rec2, ShapeLines},
	} {
		for _, compress := range []bool{false, true} {
			data := []byte(tc.data)
			if compress {
				data = gz(t, data)
			}
			recs, errs, st := decodeAll(t, data)
			if len(errs) > 0 || len(recs) != 2 || st.Shape != tc.shape {
				t.Errorf("%s (gzip %v): %d records, shape %s, errors %v", tc.name, compress, len(recs), st.Shape, errs)
				continue
			}
			a, b := recs[0], recs[1]
			if a.EventName != "CreateAccessKey" || !a.LongTermKey() || a.UserIdentity.HasSession || a.ReadOnly != False || !a.EventTime.Equal(time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC)) {
				t.Errorf("%s: first record %+v", tc.name, a)
			}
			if b.ReadOnly != True || b.ManagementEvent != False || b.UserIdentity.MFAAuthenticated != True || !b.UserIdentity.HasSession ||
				b.AWSRegion != "" || b.UserAgent != "quote \" and é" || b.UserIdentity.IssuerUserName != "ops" ||
				!b.EventTime.Equal(time.Date(2024, 6, 3, 9, 0, 1, 0, time.UTC)) {
				t.Errorf("%s: second record %+v", tc.name, b)
			}
			if _, ok := b.SourceAddr(); ok {
				t.Errorf("a service host name parsed as an address")
			}
		}
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, s := range []string{"", "  \n", `{"Records":[]}`, "[]"} {
		recs, errs, _ := decodeAll(t, []byte(s))
		if len(recs) != 0 || len(errs) != 0 {
			t.Errorf("%q: %d records, errors %v", s, len(recs), errs)
		}
	}
}

// Malformed input is reported with its byte offset; reading goes on where
// it safely can.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		records int
		offsets []int64
		msg     string
	}{
		{"bad line resyncs", rec1 + "\n{\"eventName\": tru}\n" + rec2 + "\n", 2, []int64{int64(len(rec1)) + 15}, "invalid literal"},
		{"truncated line then good", rec1 + "\n{\"eventName\":\"X\"\n" + rec2 + "\n", 2, []int64{int64(len(rec1)) + 18}, "expected ',' or '}'"},
		{"bad separator in a skipped array", rec1 + "\n" + `{"zz":[[],{},1 2]}` + "\n" + rec2 + "\n", 2, []int64{int64(len(rec1)) + 1 + 15}, "expected ',' or ']', found '2'"},
		{"bad separator in a skipped object", rec1 + "\n" + `{"zz":{"a":{},"b":1 "c":2}}` + "\n" + rec2 + "\n", 2, []int64{int64(len(rec1)) + 1 + 20}, "expected ',' or '}', found '\"'"},
		{"array syntax error stops", "[" + rec1 + ",{\"a\":}," + rec2 + "]", 1, []int64{int64(len(rec1)) + 7}, "unexpected '}'"},
		{"array non-record element", "[" + rec1 + ",42," + rec2 + "]", 2, []int64{int64(len(rec1)) + 2}, "not a record object"},
		{"truncated file", `{"Records":[` + rec1 + `,{"eventName":"Cr`, 1, []int64{int64(len(rec1)) + 29}, "unexpected end"},
		{"bad time", `[{"eventName":"X","eventTime":"yesterday"},` + rec1 + `]`, 1, []int64{1}, "eventTime"},
		{"not json", "hello", 0, []int64{0}, "not CloudTrail JSON"},
		{"trailing garbage", `{"Records":[` + rec1 + `]} x`, 1, []int64{int64(len(rec1)) + 15}, "after the end"},
	} {
		recs, errs, _ := decodeAll(t, []byte(tc.data))
		if len(recs) != tc.records {
			t.Errorf("%s: %d records, want %d", tc.name, len(recs), tc.records)
		}
		if len(errs) != len(tc.offsets) {
			t.Errorf("%s: errors %v, want %d", tc.name, errs, len(tc.offsets))
			continue
		}
		for i, e := range errs {
			if e.Offset != tc.offsets[i] || !strings.Contains(e.Error(), tc.msg) || !strings.HasPrefix(e.Error(), "test: offset ") {
				t.Errorf("%s: error %q at %d, want offset %d and %q", tc.name, e, e.Offset, tc.offsets[i], tc.msg)
			}
		}
	}
}

func TestDecodeCorruptGzip(t *testing.T) {
	data := gz(t, []byte(`{"Records":[`+rec1+`]}`))
	data = data[:len(data)-12]
	_, errs, _ := decodeAll(t, data)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "test:") {
		t.Errorf("errors %v", errs)
	}
}

// Records larger than the buffer and buffer boundaries anywhere inside a
// record.
func TestDecodeAcrossBuffers(t *testing.T) {
	big := strings.Replace(rec1, `"userName":"bob"}`, `"userName":"bob","pad":"`+strings.Repeat("x", 3*chunkSize)+`"}`, 1)
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	n := 0
	for b.Len() < 5*chunkSize {
		if n > 0 {
			b.WriteString(",")
		}
		if n == 100 {
			b.WriteString(big)
		} else {
			b.WriteString(rec2)
		}
		n++
	}
	b.WriteString("]}")
	recs, errs, _ := decodeAll(t, []byte(b.String()))
	if len(errs) != 0 || len(recs) != n {
		t.Fatalf("%d records of %d, errors %v", len(recs), n, errs)
	}
	if recs[100].EventName != "CreateAccessKey" || recs[101].EventName != "GetObject" || recs[n-1].EventID != "e2" {
		t.Error("records garbled across buffer refills")
	}
}

func TestEachValue(t *testing.T) {
	raw := []byte(`{"instancesSet":{"items":[{"instanceType":"p4d.24xlarge","n":3},{"instanceType":"t3.micro","on":true}]},"names":["a","b"],"withDecryption":"true","deep":{"x":{"y":1.5e3}},"policy":{"Version":"2012"}}`)
	for path, want := range map[string]string{
		"instancesSet.items.instanceType": "p4d.24xlarge,t3.micro",
		"instancesSet.items.n":            "3",
		"instancesSet.items.on":           "true",
		"names":                           "a,b",
		"withDecryption":                  "true",
		"deep.x.y":                        "1.5e3",
		"policy":                          `{"Version":"2012"}`,
		"missing":                         "",
		"names.x":                         "",
	} {
		var got []string
		EachValue(raw, strings.Split(path, "."), func(v string) bool { got = append(got, v); return true })
		if strings.Join(got, ",") != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	EachValue([]byte(`null`), []string{"a"}, func(string) bool { t.Error("value from null"); return true })
	EachValue([]byte(`{"a":`), []string{"a"}, func(string) bool { t.Error("value from truncated JSON"); return true })
}

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":                 "198.51.100.7",
		"211.9.016.253":                "211.9.16.253",
		"2001:db8::1":                  "2001:db8::1",
		"::ffff:198.51.100.7":          "198.51.100.7",
		"AWS Internal":                 "",
		"ec2.amazonaws.com":            "",
		"999.1.1.1":                    "",
		"":                             "",
		"1.2.3":                        "",
		"10.0.0.1, 10.0.0.2":           "",
		"cloudformation.amazonaws.com": "",
	} {
		a, ok := ParseAddr(in)
		got := ""
		if ok {
			got = a.String()
		}
		if got != want {
			t.Errorf("ParseAddr(%q) = %q, want %q", in, got, want)
		}
	}
	a, _ := ParseAddr("2001:db8:1234:5678::1")
	if Network(a).String() != "2001:db8:1234::/48" {
		t.Errorf("v6 network %s", Network(a))
	}
	a, _ = ParseAddr("198.51.100.7")
	if Network(a).String() != "198.51.100.0/24" {
		t.Errorf("v4 network %s", Network(a))
	}
}

func TestFileInputsWalk(t *testing.T) {
	dir := t.TempDir()
	day := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2024", "06", "03")
	digest := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail-Digest", "us-east-1", "2024", "06", "03")
	for _, d := range []string{day, digest} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(day, "a.json.gz"), gz(t, []byte(`{"Records":[`+rec1+`]}`)))
	write(filepath.Join(day, "b.json"), []byte("["+rec2+"]"))
	write(filepath.Join(day, "README.md"), []byte("not a log"))
	write(filepath.Join(digest, "d.json.gz"), gz(t, []byte(`{"awsAccountId":"111122223333"}`)))
	ch := make(chan Input)
	var walkErrs []*InputError
	go FileInputs(context.Background(), []string{dir, filepath.Join(dir, "missing.json"), "-"}, strings.NewReader(rec1), ch, func(e *InputError) { walkErrs = append(walkErrs, e) }, nil)
	var st Stats
	n := 0
	Process(context.Background(), ch, 2, func(int, *Record) {}, func(e *InputError) { t.Errorf("decode error %v", e) }, &st)
	n = int(st.Records.Load())
	if n != 3 || st.Inputs.Load() != 3 {
		t.Errorf("%d records from %d inputs, want 3 from 3", n, st.Inputs.Load())
	}
	if len(walkErrs) != 1 || !strings.Contains(walkErrs[0].Error(), "missing.json") {
		t.Errorf("walk errors %v", walkErrs)
	}
}

func TestDayRange(t *testing.T) {
	for key, want := range map[string]string{
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/03/x.json.gz": "2024-06-03 2024-06-04",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/":             "2024-06-01 2024-07-01",
		"AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2024/":          "2024-01-01 2025-01-01",
		"AWSLogs/111122223333/CloudTrail/us-east-1/":                     "",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/13/":             "",
		"random/prefix/": "",
	} {
		from, to, ok := DayRange(key)
		got := ""
		if ok {
			got = from.Format("2006-01-02") + " " + to.Format("2006-01-02")
		}
		if got != want {
			t.Errorf("DayRange(%q) = %q, want %q", key, got, want)
		}
	}
}

// readerCorpus is 2,000 records; with traps, half of them carry the field
// traps of rec2 (which encoding/json refuses: awsRegion as an array).
func readerCorpus(b *testing.B, traps bool) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	for i := 0; i < 2000; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		if i%2 == 0 || !traps {
			buf.WriteString(rec1)
		} else {
			buf.WriteString(rec2)
		}
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// BenchmarkDecode measures the record reader alone (no gzip).
func BenchmarkDecode(b *testing.B) {
	data := readerCorpus(b, true)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n := 0
		Decode("bench", bytes.NewReader(data), func(*Record) { n++ }, func(e *InputError) { b.Fatal(e) })
		if n != 2000 {
			b.Fatal(n)
		}
	}
}

func BenchmarkDecodePlain(b *testing.B) {
	data := readerCorpus(b, false)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		Decode("bench", bytes.NewReader(data), func(*Record) {}, func(e *InputError) { b.Fatal(e) })
	}
}

// BenchmarkDecodeGzip adds decompression through klauspost/compress.
func BenchmarkDecodeGzip(b *testing.B) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	raw := readerCorpus(b, true)
	zw.Write(raw)
	zw.Close()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		Decode("bench", bytes.NewReader(z.Bytes()), func(*Record) {}, func(e *InputError) { b.Fatal(e) })
	}
}

func newGzipWriter(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }

// stdRecord is Record as encoding/json would decode it, for comparison.
type stdRecord struct {
	EventVersion, EventTime, EventSource, EventName, EventType, EventID, AWSRegion string
	SourceIPAddress, UserAgent, ErrorCode, ErrorMessage, RecipientAccountID        string
	ReadOnly, ManagementEvent                                                      any
	UserIdentity                                                                   struct {
		Type, PrincipalID, ARN, AccountID, AccessKeyID, UserName, InvokedBy string
		SessionContext                                                      *struct {
			Attributes    struct{ MfaAuthenticated any }
			SessionIssuer struct{ Type, ARN, UserName string }
		}
	}
	RequestParameters, ResponseElements, AdditionalEventData json.RawMessage
}

// BenchmarkDecodeEncodingJSON is the baseline the hand-written scanner is
// measured against: the standard library into an equivalent struct, on
// records without traps (it cannot decode those); BenchmarkDecodePlain is
// the scanner on the same bytes.
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	data := readerCorpus(b, false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var doc struct{ Records []stdRecord }
		if err := json.Unmarshal(data, &doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFile decodes the uncompressed CloudTrail file named by
// KEYWARDEN_BENCH_CLOUDTRAIL (for comparisons on real or generated data).
func BenchmarkDecodeFile(b *testing.B) {
	path := os.Getenv("KEYWARDEN_BENCH_CLOUDTRAIL")
	if path == "" {
		b.Skip("set KEYWARDEN_BENCH_CLOUDTRAIL to an uncompressed CloudTrail file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		Decode(path, bytes.NewReader(data), func(*Record) {}, func(e *InputError) { b.Fatal(e) })
	}
}

func BenchmarkDecodeFileEncodingJSON(b *testing.B) {
	path := os.Getenv("KEYWARDEN_BENCH_CLOUDTRAIL")
	if path == "" {
		b.Skip("set KEYWARDEN_BENCH_CLOUDTRAIL to an uncompressed {\"Records\":[...]} file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		var doc struct{ Records []stdRecord }
		if err := json.Unmarshal(data, &doc); err != nil {
			b.Fatal(err)
		}
	}
}

package cloudtrail

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// A gzip stream that inflates far beyond any log ends as an input error
// naming the input and the decompressed offset, not as a silent empty
// read or an endless one.
func TestDecodeGzipBomb(t *testing.T) {
	old := maxDecompressed
	defer func() { maxDecompressed = old }()
	// A sample of ordinary records: compresses well under the ratio guard.
	var logs bytes.Buffer
	for logs.Len() < 3<<20 {
		logs.WriteString(strings.Replace(rec1, `"eventID":"e1"`, `"eventID":"e`+strings.Repeat("1", logs.Len()%97)+`"`, 1) + "\n")
	}
	spaces := func(prefix string, n int) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write([]byte(prefix))
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for range n {
			zw.Write(chunk)
		}
		zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name    string
		data    []byte
		limit   int64
		records int
		msg     string
	}{
		{"whitespace bomb inside Records", spaces(`{"Records":[`+rec1+`,`, 64), old, 1, "a gzip bomb, not a log"},
		{"whitespace bomb between lines", spaces(rec1+"\n", 64), old, 1, "a gzip bomb, not a log"},
		{"zeros", spaces("\x00", 64), old, 0, "not CloudTrail JSON"},
		{"larger than the cap", gz(t, logs.Bytes()), 1 << 20, -1, "decompressed data larger than 1048576 bytes"},
		{"ordinary logs under the cap", gz(t, logs.Bytes()), old, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxDecompressed = tt.limit
			recs, errs, st := decodeAll(t, tt.data)
			if tt.records >= 0 && len(recs) != tt.records {
				t.Errorf("%d records, want %d", len(recs), tt.records)
			}
			if tt.msg == "" {
				if len(errs) != 0 || len(recs) == 0 {
					t.Errorf("%d records, errors %v", len(recs), errs)
				}
				return
			}
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "test: offset ") || !strings.Contains(errs[0].Error(), tt.msg) {
				t.Fatalf("errors %v, want one naming the input and %q", errs, tt.msg)
			}
			if st.Bytes > 64<<20 {
				t.Errorf("read %d bytes before stopping", st.Bytes)
			}
		})
	}
}

// Shapes a hostile or broken file takes: each is read or refused with a
// positioned error, without a panic, and the records around it survive.
func TestDecodeHostile(t *testing.T) {
	tenMB := strings.Repeat("A", 10<<20)
	deep := strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)
	deepArr := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	withParams := func(params string) string {
		return strings.Replace(rec1, `"requestParameters":{"userName":"bob"}`, `"requestParameters":`+params, 1)
	}
	tests := []struct {
		name       string
		data       string
		records    int
		notRecords int
		errs       []string
	}{
		{"10 MB user agent on one line", strings.Replace(rec1, "aws-cli/2.15.30", tenMB, 1) + "\n" + rec2 + "\n", 2, 0, nil},
		{"10 MB line of garbage between records", rec1 + "\n" + tenMB + "\n" + rec2 + "\n", 2, 0, []string{"test: offset " + strconv.Itoa(len(rec1)+1) + `: expected a record object, found 'A'`}},
		{"10 MB of garbage first", tenMB + "\n" + rec2 + "\n", 0, 0, []string{`test: offset 0: not CloudTrail JSON: starts with 'A'`}},
		{"record over the size limit", `{"Records":[` + strings.Replace(rec1, "aws-cli/2.15.30", strings.Repeat("B", MaxRecordSize), 1) + "]}", 0, 0, []string{"record larger than"}},
		{"100k-deep object in requestParameters", withParams(deep) + "\n" + rec2 + "\n", 1, 0, []string{"test: offset 2984: nesting too deep"}},
		{"100k-deep array in Records", `{"Records":[` + rec1 + "," + deepArr + "]}", 1, 0, []string{"nest"}},
		{"non-object elements in Records", `{"Records":[` + rec1 + `,"x",null,[1],` + rec2 + "]}", 2, 0, []string{"not a record object", "not a record object", "not a record object"}},
		{"objects that are not records", `[{"a":1},` + rec1 + `,{}]`, 1, 2, nil},
		{"NUL and escapes in fields", strings.Replace(rec1, "aws-cli/2.15.30", `\u0000\u001b[31m\u009b`, 1), 1, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs, st := decodeAll(t, []byte(tt.data))
			if len(recs) != tt.records || st.NotRecords != tt.notRecords {
				t.Errorf("%d records and %d non-records, want %d and %d", len(recs), st.NotRecords, tt.records, tt.notRecords)
			}
			if len(tt.errs) == 0 && len(errs) > 0 {
				t.Errorf("errors %v", errs)
			}
			for i, want := range tt.errs {
				e := strings.Join(func() []string {
					var s []string
					for _, e := range errs {
						s = append(s, e.Error())
					}
					return s
				}(), "\n")
				if tt.name == "non-object elements in Records" {
					if len(errs) != len(tt.errs) || !strings.Contains(errs[i].Error(), want) {
						t.Errorf("errors %v, want %d saying %q", errs, len(tt.errs), want)
					}
					continue
				}
				if !strings.Contains(e, want) {
					t.Errorf("errors %q do not say %q", e, want)
				}
			}
		})
	}
}

// A named pipe given as a source is read like a file (process
// substitution: keywarden detect <(zcat old/*.gz)).
func TestFileInputsNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		io.WriteString(f, `{"Records":[`+rec1+`]}`)
		f.Close()
	}()
	ch := make(chan Input, 1)
	var errs []*InputError
	go FileInputs(context.Background(), []string{fifo}, nil, ch, func(e *InputError) { errs = append(errs, e) }, nil)
	var st Stats
	n := 0
	Process(context.Background(), ch, 1, func(int, *Record) { n++ }, func(e *InputError) { errs = append(errs, e) }, &st)
	if n != 1 || len(errs) != 0 {
		t.Errorf("%d records, errors %v", n, errs)
	}
}

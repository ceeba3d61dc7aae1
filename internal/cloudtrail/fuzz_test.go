package cloudtrail

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the record reader: it must never
// panic or hang, must report errors at offsets inside the input, and the
// lazy field lookup must survive whatever raw JSON it keeps.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"Records":[` + rec1 + "," + rec2 + `]}`,
		"[" + rec1 + "]",
		rec1 + "\n" + rec2 + "\n",
		`{"Records":[{"eventName":"X","requestParameters":{"a":[1,{"b":"\ud83d\ude00"}]}}]}`,
		`[{"eventTime":"2024-06-03T09:00:00+00:00","userIdentity":"odd"}]`,
		"{\"a\":\"\\u12\"}\n{}",
		"[",
	} {
		f.Add([]byte(s))
	}
	f.Add(gzipBytes([]byte(`{"Records":[` + rec1 + `]}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		compressed := len(data) > 1 && data[0] == 0x1f && data[1] == 0x8b
		Decode("fuzz", bytes.NewReader(data), func(r *Record) {
			n++
			EachValue(r.RequestParameters, []string{"a", "b"}, func(string) bool { return true })
			EachValue(r.ResponseElements, nil, func(string) bool { return true })
			_, _ = r.SourceAddr()
		}, func(e *InputError) {
			if !compressed && (e.Offset < 0 || e.Offset > int64(len(data))) {
				t.Errorf("error offset %d outside the %d-byte input: %v", e.Offset, len(data), e)
			}
		})
	})
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := newGzipWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

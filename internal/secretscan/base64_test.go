package secretscan

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Base64-encoded values: each form must pair the ID with its secret, at
// the encoded spans; the near-misses must stay quiet.
func TestDetectBase64(t *testing.T) {
	k := newTestKeys(t, 31)
	env := k.fill("AWS_ACCESS_KEY_ID={ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
	creds := k.fill("[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	r := rand.NewChaCha8([32]byte{31})
	blob := make([]byte, 600)
	_, _ = r.Read(blob)
	checkBase64(t, k, []base64Case{
		{"Kubernetes Secret data", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws\ntype: Opaque\ndata:\n  AWS_ACCESS_KEY_ID: " + b64(k.ID) + "\n  AWS_SECRET_ACCESS_KEY: " + b64(k.Secret) + "\n", "pair:ID+SECRET", 7, 8},
		{"Kubernetes Secret, values with a newline", "data:\n  id: " + b64(k.ID+"\n") + "\n  secret: " + b64(k.Secret+"\n") + "\n", "pair:ID+SECRET", 2, 3},
		{"Kubernetes Secret, JSON", `{"kind":"Secret","data":{"AWS_ACCESS_KEY_ID":"` + b64(k.ID) + `","AWS_SECRET_ACCESS_KEY":"` + b64(k.Secret) + `"}}`, "pair:ID+SECRET", 1, 1},
		{"env file as one value", "data:\n  .env: " + b64(env) + "\n", "pair:ID+SECRET", 2, 2},
		{"credentials file in Helm values", "aws:\n  credentials: \"" + b64(creds) + "\"\n", "pair:ID+SECRET", 2, 2},
		{"CI variable, unpadded", "variables:\n  AWS_ENV_B64: " + strings.TrimRight(b64(env+"#"), "=") + "\n", "pair:ID+SECRET", 2, 2},
		{"twice encoded", "blob: " + b64(b64(env)) + "\n", "pair:ID+SECRET", 1, 1},
		{"lone encoded ID", "data:\n  key: " + b64(k.ID) + "\n", "key-id:ID", 2, 0},
		// Its base64 has no digit: QUtJQVJaUFVaRElLSUFERVYyWlI=
		{"encoded ID without digits in its base64", "data:\n  key: " + b64("AKIARZPUZDIKIADEV2ZR") + "\n", "key-id:AKIARZPUZDIKIADEV2ZR", 2, 0},
		{"lone encoded secret with AWS name", "data:\n  AWS_SECRET_ACCESS_KEY: " + b64(k.Secret) + "\n", "secret+SECRET", 0, 2},
		// Near-misses.
		{"random blob", "data:\n  blob: " + base64.StdEncoding.EncodeToString(blob) + "\n", "", 0, 0},
		{"text without keys", "data:\n  config: " + b64("AWS_REGION=us-east-1\nsecret_name=prod/db\nAKIA is how IDs start\n") + "\n", "", 0, 0},
		{"encoded user ID", "data:\n  user: " + b64(k.AIDAish()) + "\n", "", 0, 0},
		{"encoded random 40 chars, no name, no ID", "data:\n  value: " + b64(k.Secret) + "\n", "", 0, 0},
		{"three times encoded: too deep", "blob: " + b64(b64(b64(env))) + "\n", "", 0, 0},
		{"base64url run is not a value", "x: " + b64(k.ID) + "_tail\n", "", 0, 0},
	})
}

// base64Case is a text, what Find reports in it, and the lines of the ID
// and the secret (0: not checked).
type base64Case struct {
	name, in, want  string
	idLine, secLine int
}

// checkBase64 runs Find over each case: every match is base64, at the
// lines given, and its spans start and end on encoded characters, with no
// quote or colon between (a value cut by wrapping spans the line break).
func checkBase64(t *testing.T, k testKeys, tests []base64Case) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := New(Options{}).Find([]byte(tt.in))
			if got := summary(k, ms); got != tt.want {
				t.Fatalf("Find(%q)\n got: %s\nwant: %s", tt.in, got, tt.want)
			}
			for _, m := range ms {
				if m.Encoding != "base64" {
					t.Errorf("encoding %q, want base64", m.Encoding)
				}
				if tt.idLine > 0 && m.IDSpan.Line != tt.idLine || tt.secLine > 0 && m.SecretSpan.Line != tt.secLine {
					t.Errorf("lines: ID %d secret %d, want %d %d", m.IDSpan.Line, m.SecretSpan.Line, tt.idLine, tt.secLine)
				}
				for _, sp := range []Span{m.IDSpan, m.SecretSpan} {
					if sp.Line == 0 {
						continue
					}
					if enc := tt.in[sp.Start:sp.End]; !secretChar[enc[0]] || !secretChar[enc[len(enc)-1]] && enc[len(enc)-1] != '=' || strings.ContainsAny(enc, "\":") {
						t.Errorf("span %+v covers %q", sp, enc)
					}
				}
			}
		})
	}
}

// The span of a value found in decoded text covers the characters that
// encode it: decoding them (at their alignment) gives the value back.
func TestBase64SpanMapping(t *testing.T) {
	k := newTestKeys(t, 32)
	for pad := 0; pad < 3; pad++ {
		text := strings.Repeat("#", pad) + k.fill("AWS_ACCESS_KEY_ID={ID}\n")
		in := "v: " + b64(text) + "\n"
		ms := New(Options{}).Find([]byte(in))
		if len(ms) != 1 {
			t.Fatalf("pad %d: %d matches", pad, len(ms))
		}
		sp := ms[0].IDSpan
		off := strings.Index(text, k.ID)
		wantStart := 3 + off*4/3
		wantEnd := 3 + ((off+len(k.ID))*4+2)/3
		if sp.Start != wantStart || sp.End != wantEnd || sp.Line != 1 || sp.Col != wantStart+1 {
			t.Errorf("pad %d: span %+v, want %d..%d", pad, sp, wantStart, wantEnd)
		}
	}
}

func TestAlignedForms(t *testing.T) {
	for _, w := range []string{"AKIA", "ecret"} {
		forms := alignedForms(w)
		if len(forms) != 3 {
			t.Fatalf("%s: %d forms", w, len(forms))
		}
		for pad := 0; pad < 3; pad++ {
			for _, lead := range []string{"", "x", "xy", "xyz"} {
				enc := b64(lead + strings.Repeat("q", pad) + w + "tail")
				found := false
				for _, f := range forms {
					found = found || strings.Contains(enc, f)
				}
				if !found {
					t.Errorf("%q: no form of %s in %s", lead+w, w, enc)
				}
			}
		}
	}
}

// wrap cuts base64 text into lines of width columns, each after indent.
func wrap(enc string, width int, indent string) string {
	var b strings.Builder
	for len(enc) > 0 {
		n := min(width, len(enc))
		b.WriteString(indent + enc[:n] + "\n")
		enc = enc[n:]
	}
	return b.String()
}

// Base64 wrapped over lines (the base64 tool at 76 columns, PEM at 64, a
// value folded in a Kubernetes manifest) is joined before decoding; what
// it holds is placed on the encoded lines.
func TestDetectWrappedBase64(t *testing.T) {
	k := newTestKeys(t, 33)
	creds := k.fill("# backup of ~/.aws\n[default]\nregion = eu-west-1\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	env := k.fill("APP=1\nAWS_ACCESS_KEY_ID={ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
	r := rand.NewChaCha8([32]byte{33})
	blob := make([]byte, 400)
	_, _ = r.Read(blob)
	// Where the encoded ID lands: the line of character 4k/3 of the
	// joined text, k its offset in the clear text.
	lineOf := func(clear string, width, first int) int {
		return first + (strings.Index(clear, k.ID)*4/3)/width
	}
	checkBase64(t, k, []base64Case{
		{"base64 tool, 76 columns", wrap(b64(creds), 76, ""), "pair:ID+SECRET", lineOf(creds, 76, 1), 0},
		{"PEM-like, 64 columns, CRLF", "-----BEGIN CREDENTIALS-----\r\n" + strings.ReplaceAll(wrap(b64(creds), 64, ""), "\n", "\r\n") + "-----END CREDENTIALS-----\r\n", "pair:ID+SECRET", lineOf(creds, 64, 2), 0},
		{"Kubernetes manifest, folded value", "apiVersion: v1\nkind: Secret\ndata:\n  app.env: >-\n" + wrap(b64(env), 60, "    ") + "  other: eA==\n", "pair:ID+SECRET", lineOf(env, 60, 5), 0},
		{"first line after a key", "blob: " + b64(env)[:72] + "\n      " + b64(env)[72:] + "\n", "pair:ID+SECRET", 0, 0},
		// Near misses.
		{"wrapped random bytes", wrap(base64.StdEncoding.EncodeToString(blob), 76, ""), "", 0, 0},
		{"wrapped text without keys", wrap(b64(strings.Repeat("AWS_REGION=us-east-1\n", 10)), 76, ""), "", 0, 0},
		{"lines not whole groups", wrap(b64(creds), 75, ""), "", 0, 0},
		{"a line that goes on with prose", wrap(b64(creds), 76, "")[:77] + "and then some words\n", "", 0, 0},
	})
}

// A large block of wrapped base64 full of keys costs the same per byte at
// 32 KiB as at 512 KiB (the bytes examined are counted, not timed): its
// lines are read once, not again line by line.
func TestWrappedBase64Linear(t *testing.T) {
	k := newTestKeys(t, 34)
	d := New(Options{})
	perByte := map[int]float64{}
	sizes := []int{32 << 10, 512 << 10}
	for _, size := range sizes {
		var clear strings.Builder
		for clear.Len()*4/3 < size {
			clear.WriteString(k.fill("AWS_ACCESS_KEY_ID={ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n"))
		}
		in := wrap(b64(clear.String()), 76, "  ")
		ms, work := d.find([]byte(in))
		if len(ms) < size/200 {
			t.Fatalf("%d bytes: %d matches", size, len(ms))
		}
		perByte[size] = float64(work) / float64(len(in))
	}
	if perByte[sizes[1]] > 1.5*perByte[sizes[0]] {
		t.Errorf("work per byte %.1f at %d, %.1f at %d: it grows with the block", perByte[sizes[1]], sizes[1], perByte[sizes[0]], sizes[0])
	}
}

// A wrapped block longer than maxBase64Run (Go's debug/buildinfo testdata
// holds a 1.5 MB executable in base64 at 76 columns) is passed over whole:
// it was walked again from each of its lines, 24 s for that one file.
func TestWrappedBase64Blob(t *testing.T) {
	r := rand.NewChaCha8([32]byte{35})
	blob := make([]byte, 3*maxBase64Run/2)
	_, _ = r.Read(blob)
	in := []byte(wrap(base64.StdEncoding.EncodeToString(blob), 76, ""))
	ms, work := New(Options{}).find(in)
	if len(ms) != 0 {
		t.Errorf("%d matches in random bytes", len(ms))
	}
	if perByte := float64(work) / float64(len(in)); perByte > 4 {
		t.Errorf("%.1f bytes examined per byte of the block: it is read again from its lines", perByte)
	}
}

// linesOf cuts data into lines of the given widths, each followed by a
// newline, as wrapped base64 is laid out, and returns the text and the
// spans of the lines.
func linesOf(data []byte, widths []byte) ([]byte, [][2]int) {
	var text []byte
	var segs [][2]int
	for i := 0; len(data) > 0; i++ {
		w := 1
		if len(widths) > 0 {
			w = max(1, int(widths[i%len(widths)]))
		}
		w = min(w, len(data))
		segs = append(segs, [2]int{len(text), len(text) + w})
		text = append(append(text, data[:w]...), '\n')
		data = data[w:]
	}
	return text, segs
}

// The wrapped-base64 prefilter reads the lines in place: it must say what
// the same tests say of the lines joined, whatever the lines' widths, a
// probe inside a line, across two lines or over several short ones.
func TestWrappedPrefilterInPlace(t *testing.T) {
	if 2*maxProbe > 64 {
		t.Fatalf("maxProbe %d: linesHaveProbe's edge buffer is too small", maxProbe)
	}
	probe := string(base64Probes[0])
	long := string(base64Probes[len(base64Probes)-1])
	filler := strings.Repeat("xyz0", 20)
	for _, tc := range []struct {
		name   string
		text   string
		widths []byte
		want   bool
	}{
		{"inside a line", filler + probe + filler, []byte{40}, true},
		{"across two lines", filler[:38] + probe + filler, []byte{40}, true},
		{"over several short lines", filler[:38] + long + filler, []byte{40, 1, 1, 1, 40}, true},
		{"one character a line", filler + long, []byte{1}, true},
		{"none", filler + filler, []byte{40, 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkPrefilterInPlace(t, []byte(tc.text), tc.widths)
			text, segs := linesOf([]byte(tc.text), tc.widths)
			s := scan{data: text}
			if got := s.linesHaveProbe(segs); got != tc.want {
				t.Errorf("linesHaveProbe = %v, want %v", got, tc.want)
			}
		})
	}
}

func checkPrefilterInPlace(t *testing.T, data, widths []byte) {
	t.Helper()
	text, segs := linesOf(data, widths)
	s := scan{data: text}
	if got, want := s.linesHaveProbe(segs), hasProbe(data); got != want {
		t.Errorf("linesHaveProbe = %v, hasProbe of the joined lines = %v (%q, widths %v)", got, want, data, widths)
	}
	if got, want := s.linesMixedCase(segs), mixedCase(data); got != want {
		t.Errorf("linesMixedCase = %v, mixedCase of the joined lines = %v (%q, widths %v)", got, want, data, widths)
	}
}

func FuzzWrappedPrefilterInPlace(f *testing.F) {
	f.Add([]byte("xyz0"+string(base64Probes[3])+"abc"), []byte{5, 1, 2})
	f.Add([]byte(strings.Repeat("QUtJQ", 9)), []byte{1})
	f.Fuzz(func(t *testing.T, data, widths []byte) {
		if len(data) > 1<<12 {
			return
		}
		checkPrefilterInPlace(t, data, widths)
	})
}

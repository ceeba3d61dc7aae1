package awsini

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("v", 5<<20) // past bufio.Scanner's limits
	tests := []struct {
		name   string
		data   string
		config bool
		want   []string // "profile:key=value" per setting
		err    string   // the whole error, when the data is refused
	}{
		{name: "credentials", data: "[work]\naws_access_key_id = AKIA\n[default]\nregion=eu-west-1\n",
			want: []string{"work:aws_access_key_id=AKIA", "default:region=eu-west-1"}},
		{name: "config profiles", config: true, data: "[profile work]\nregion = x\n[sso-session s]\nsso_region = y\n[default]\noutput = json\n[profile\tt ]\nk=v\n[profilex]\nk=w\n",
			want: []string{"work:region=x", ":sso_region=y", "default:output=json", "t:k=v", ":k=w"}},
		{name: "credentials keep the header", data: "[profile work]\nk = v\n", want: []string{"profile work:k=v"}},
		{name: "crlf, comments, inline comment, bom", data: "\ufeff# c\r\n[a]\r\n; c\r\nk = v  # note\r\nK2 = a;b #c ; d\r\n",
			want: []string{"a:k=v", "a:k2=a;b"}},
		{name: "nested value continuation", config: true, data: "[profile p]\ns3 =\n  max_concurrent_requests = 10\n\tx = y\nregion = r\n",
			want: []string{"p:s3=", "p:region=r"}},
		{name: "indented header", data: "  [a]\nk = v\n", want: []string{"a:k=v"}},
		{name: "comment-like value", data: "[a]\nk = #v\nj = v#w\n", want: []string{"a:k=#v", "a:j=v#w"}},
		// botocore strips a value of all white space (str.strip), not
		// only spaces and tabs.
		{name: "value trimmed of unicode space", data: "[a]\nk =\u00a0v\u00a0\v\f\r\r\nj =\u2003w\u3000 # c\n",
			want: []string{"a:k=v", "a:j=w"}},
		// botocore has no line-length limit; only the file's size is.
		{name: "line longer than 4 MiB", data: "[a]\nk = " + long + "\n", want: []string{"a:k=" + long}},
		{name: "empty", data: ""},
		{name: "bom before key", data: "\ufeffk = v\n", err: "f:1: key outside any section"},
		{name: "no bracket", data: "[a\n", err: "f:1: section header without ']'"},
		{name: "no equals", data: "[a]\njunk\n", err: "f:2: expected key = value"},
		{name: "key outside section", data: "\n\nk = v\n", err: "f:3: key outside any section"},
		// botocore refuses an indented line before any section header
		// (MissingSectionHeaderError); it is not a continuation.
		{name: "indent outside section", data: "  x\n", err: "f:1: indented line outside any section"},
		{name: "indented key outside section", config: true, data: "# c\n\tregion = x\n[profile a]\n", err: "f:2: indented line outside any section"},
		{name: "too large", data: "[a]\n" + strings.Repeat("#", MaxFileSize), err: fmt.Sprintf("f:0: larger than the %d-byte limit", MaxFileSize)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secs, err := Parse("f", []byte(tc.data), tc.config)
			if tc.err != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || err.Error() != tc.err {
					t.Fatalf("err %v, want a SyntaxError %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range secs {
				for _, st := range s.Settings {
					got = append(got, s.Profile+":"+st.Key+"="+st.Value)
					if v := tc.data[st.ValStart:st.ValEnd]; v != st.Value {
						t.Errorf("value span %q, value %q", v, st.Value)
					}
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %.200q\nwant %.200q", got, tc.want)
			}
		})
	}
}

// Sections and settings say where they sit, so that a file can be edited
// in place.
func TestParsePositions(t *testing.T) {
	data := "\ufeff[a]\r\nk = v ; c\r\n\r\n[b]\nj=w"
	secs, err := Parse("f", []byte(data), false)
	if err != nil {
		t.Fatal(err)
	}
	type span struct{ header, line, section, setting, value string }
	want := []span{
		{"a", "[a]", "[a]\r\nk = v ; c\r\n\r\n", "k = v ; c", "v"},
		{"b", "[b]", "[b]\nj=w", "j=w", "w"},
	}
	if len(secs) != len(want) {
		t.Fatalf("%d sections, want %d", len(secs), len(want))
	}
	for i, w := range want {
		s := secs[i]
		st := s.Settings[0]
		got := span{s.Header, data[s.Line.Start:s.Line.End], data[s.Line.Start:s.End],
			data[st.Line.Start:st.Line.End], data[st.ValStart:st.ValEnd]}
		if i == 0 {
			got.line = strings.TrimPrefix(got.line, "\ufeff")
			got.section = strings.TrimPrefix(got.section, "\ufeff")
		}
		if got != w {
			t.Errorf("section %d: %q\nwant %q", i, got, w)
		}
	}
	if secs[0].Line.No != 1 || secs[0].Settings[0].Line.No != 2 || secs[1].Line.No != 4 {
		t.Errorf("line numbers %d %d %d", secs[0].Line.No, secs[0].Settings[0].Line.No, secs[1].Line.No)
	}
}

func TestSectionKindAndGet(t *testing.T) {
	for _, tc := range []struct{ header, kind, name, profile string }{
		{"profile work", "profile", "work", "work"},
		{"profile \t work", "profile", "work", "work"},
		{"profile", "profile", "", ""},
		{"sso-session corp", "sso-session", "corp", ""},
		{"default", "default", "", "default"},
		{"profilework", "profilework", "", ""},
		{"services s3 x", "services", "s3 x", ""},
	} {
		s := Section{Header: tc.header}
		if k, n := s.Kind(); k != tc.kind || n != tc.name {
			t.Errorf("[%s].Kind() = %q, %q; want %q, %q", tc.header, k, n, tc.kind, tc.name)
		}
		if p := profileOf(&s, true); p != tc.profile {
			t.Errorf("[%s] in config defines profile %q, want %q", tc.header, p, tc.profile)
		}
		if p := profileOf(&s, false); p != tc.header {
			t.Errorf("[%s] in credentials defines profile %q", tc.header, p)
		}
	}
	s := Section{Settings: []Setting{{Key: "a", Value: "1"}, {Key: "b", Value: ""}}}
	if v, ok := s.Get("b"); !ok || v != "" {
		t.Errorf("Get(b) = %q, %v", v, ok)
	}
	if _, ok := s.Get("c"); ok {
		t.Error("Get(c) found")
	}
}

func TestSplitLines(t *testing.T) {
	data := "a\r\nb\n\nc"
	got := SplitLines([]byte(data))
	want := []Line{{1, 0, 1, 3}, {2, 3, 4, 5}, {3, 5, 5, 6}, {4, 6, 7, 7}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("[work]\r\naws_access_key_id = AKIA\r\n"), true)
	f.Add([]byte("\ufeff[profile x]\n s3 =\n  a = b\nk=v ; c\n"), false)
	f.Add([]byte("[profile a]\nk =\u00a0v\u00a0#c\n[sso-session s]\nsso_region = r\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, config bool) {
		if len(data) > 1<<20 {
			return
		}
		secs, err := Parse("f", data, config)
		// The same file with CRLF line endings reads the same.
		crlf, errCRLF := Parse("f", bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), config)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 0 || se.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("error %v", err)
			}
			if errCRLF == nil || errCRLF.Error() != err.Error() {
				t.Fatalf("CRLF: %v, LF: %v", errCRLF, err)
			}
			return
		}
		if errCRLF != nil || len(crlf) != len(secs) {
			t.Fatalf("CRLF: %v, %d sections; LF %d", errCRLF, len(crlf), len(secs))
		}
		prev := 0
		for i, s := range secs {
			if s.Line.Start < prev || s.Line.Start > s.Line.Next || s.Line.Next > s.End || s.End > len(data) {
				t.Fatalf("bad section span %+v", s)
			}
			prev = s.End
			if c := crlf[i]; c.Header != s.Header || c.Profile != s.Profile || len(c.Settings) != len(s.Settings) {
				t.Fatalf("CRLF: %+v\nLF: %+v", c, s)
			}
			for j, st := range s.Settings {
				if st.Line.Start < s.Line.Next || st.Line.Next > s.End {
					t.Fatalf("setting %+v outside its section %+v", st, s)
				}
				if st.ValStart > st.ValEnd || st.ValStart < st.Line.Start || st.ValEnd > st.Line.End || string(data[st.ValStart:st.ValEnd]) != st.Value {
					t.Fatalf("bad value span %+v", st)
				}
				if strings.TrimFunc(st.Value, unicode.IsSpace) != st.Value {
					t.Fatalf("value %q not trimmed", st.Value)
				}
				if c := crlf[i].Settings[j]; c.Key != st.Key || c.Value != st.Value || c.Line.No != st.Line.No {
					t.Fatalf("CRLF: %+v\nLF: %+v", c, st)
				}
			}
		}
	})
}

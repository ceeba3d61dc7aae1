package iampolicy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseShapes(t *testing.T) {
	doc := `{
  "Version": "2012-10-17",
  "Statement": {
    "Sid": "One",
    "Effect": "Deny",
    "NotAction": ["iam:CreateVirtualMFADevice", "sts:GetSessionToken"],
    "Resource": "*",
    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": false},
                  "NumericGreaterThan": {"aws:MultiFactorAuthAge": 3600}}
  }
}`
	p, err := Parse("p.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) != 0 {
		t.Fatalf("problems: %+v", p.Problems)
	}
	if p.StatementList || len(p.Statements) != 1 {
		t.Fatalf("statement shape: list=%v n=%d", p.StatementList, len(p.Statements))
	}
	s := p.Statements[0]
	if s.Effect != Deny || !s.NotAction.Present || s.Action.Present || len(s.NotAction.List) != 2 || !s.Resource.Has("*") {
		t.Fatalf("statement: %+v", s)
	}
	if s.Pos.Line != 3 || s.Pos.Col != 16 {
		t.Errorf("statement pos = %v", s.Pos)
	}
	if len(s.Conditions) != 2 {
		t.Fatalf("conditions: %+v", s.Conditions)
	}
	c := s.Conditions[0]
	if c.Op.Base != "Bool" || !c.Op.IfExists || c.Key != "aws:MultiFactorAuthPresent" || c.Values[0].S != "false" || c.Values[0].Kind != Bool {
		t.Errorf("condition 0: %+v", c)
	}
	if c.Pos.Line != 8 {
		t.Errorf("condition pos = %v", c.Pos)
	}
	if v := s.Conditions[1].Values[0]; v.S != "3600" || v.Kind != Number {
		t.Errorf("numeric value: %+v", v)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name, doc, code string
	}{
		{"version", `{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "version"},
		{"effect case", `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`, "effect"},
		{"no effect", `{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}`, "effect"},
		{"operator", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolEquals":{"aws:SecureTransport":"false"}}}]}`, "operator"},
		{"operator case", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"stringEquals":{"aws:username":"a"}}}]}`, "operator"},
		{"set qualifier", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForSomeValues:StringLike":{"aws:TagKeys":"a"}}}]}`, "operator"},
		{"dup sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`, "duplicate-sid"},
		{"action and notaction", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","NotAction":"iam:*","Resource":"*"}]}`, "field"},
		{"no statement", `{"Version":"2012-10-17"}`, "empty"},
		{"unknown element", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Actions":"*","Action":"*","Resource":"*"}]}`, "field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("x.json", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range p.Problems {
				if pr.Code == tt.code {
					return
				}
			}
			t.Fatalf("no %q problem in %+v", tt.code, p.Problems)
		})
	}
	// The near miss: a correct document has no problem at all.
	p, err := Parse("ok.json", []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["s3:GetObject"],"Resource":"*","Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]}}}]}`))
	if err != nil || len(p.Problems) != 0 {
		t.Fatalf("clean policy: %v %+v", err, p)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		doc       string
		line, col int
		msg       string
	}{
		{"{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"},\n  ]\n}", 5, 3, "trailing comma"},
		{`{"Version": "2012-10-17",}`, 1, 26, "trailing comma"},
		{`{"Version": "2012-10-17" "Statement": []}`, 1, 26, "missing comma"},
		{`{'Version': 1}`, 1, 2, "double quotes"},
		{``, 1, 1, "empty"},
		{`{"a": "b`, 1, 7, "unterminated"},
		{`{"a": 1} x`, 1, 10, "after the end"},
		{strings.Repeat("[", 100), 1, 66, "nested"},
		{`[1]`, 1, 1, "JSON object, not an array"},
	}
	for _, tt := range tests {
		_, err := Parse("bad.json", []byte(tt.doc))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: err = %v, want a SyntaxError", tt.doc, err)
			continue
		}
		if se.Pos.Line != tt.line || se.Pos.Col != tt.col || !strings.Contains(se.Msg, tt.msg) || se.File != "bad.json" {
			t.Errorf("%q: got %v, want %d:%d containing %q", tt.doc, err, tt.line, tt.col, tt.msg)
		}
	}
}

func TestParseOperator(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{"StringEquals", "StringEquals", false},
		{"ForAllValues:StringLikeIfExists", "ForAllValues:StringLikeIfExists", false},
		{"forallvalues:stringlike", "ForAllValues:StringLike", false},
		{"BoolIfExists", "BoolIfExists", false},
		{"NullIfExists", "", true},
		{"StringEqual", "", true},
		{"Foo:StringEquals", "", true},
	}
	for _, tt := range tests {
		o, err := ParseOperator(tt.in)
		if (err != nil) != tt.err || (!tt.err && o.String() != tt.want) {
			t.Errorf("ParseOperator(%q) = %v, %v", tt.in, o, err)
		}
	}
	o, _ := ParseOperator("NotIpAddressIfExists")
	if !o.Negated() || o.Family() != FamilyIP {
		t.Errorf("NotIpAddress: negated=%v family=%v", o.Negated(), o.Family())
	}
}

func TestDocumentMarshalRoundTrip(t *testing.T) {
	d := Document{Version: Version2012, Statement: []DocStatement{{
		Sid: "DenyWithoutMFA", Effect: Deny, NotAction: StringOrList{"iam:GetUser"}, Resource: StringOrList{"arn:aws:iam::*:user/${aws:username}", "*"},
		Condition: map[string]map[string][]string{"BoolIfExists": {"aws:MultiFactorAuthPresent": {"false"}}},
	}}}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"NotAction": "iam:GetUser"`) || !strings.Contains(string(b), "${aws:username}") {
		t.Fatalf("marshal:\n%s", b)
	}
	p, err := Parse("gen.json", b)
	if err != nil || len(p.Problems) != 0 || len(p.Statements[0].Resource.List) != 2 {
		t.Fatalf("round trip: %v %+v", err, p)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}}}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["a"]},"NotAction":"x","NotResource":["y"]}}`))
	f.Add([]byte(`{"a":"\ud83d\ude00","b":[1,2.5e3,-0,true,null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.json", data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("non-syntax error %T: %v", err, err)
			}
			if se.Pos.Line < 1 || se.Pos.Col < 1 || se.Pos.Offset > len(data) {
				t.Fatalf("bad position %+v for %d bytes", se.Pos, len(data))
			}
			return
		}
		for _, s := range p.Statements {
			_ = s.Label()
		}
	})
}

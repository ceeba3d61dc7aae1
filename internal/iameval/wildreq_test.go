package iameval

import (
	"strings"
	"testing"
)

func TestIntersect(t *testing.T) {
	arn := func(s string) wpat {
		g := compileGlob(s, false, true, false, true)
		return wpat{g.pat, g.wild}
	}
	cases := []struct {
		a, b string
		want bool
	}{
		{"arn:aws:s3:::*", "s3:", true},
		{"arn:aws:s3:::b", "s3:", true},
		{"arn:aws:s3:::*", "iam:", false},
		{"arn:aws:iam::*:user/*", "iam:111122223333", true},
		{"arn:aws:iam::444455556666:user/*", "iam:111122223333", false},
		{"arn:aws:e?2:eu-*:*:instance/*", "ec2:111122223333", true},
		{"arn:aws:ec2:eu-west-1:111122223333:*", "ec2:", false},
		// A star bound to its segment cannot stand for a colon.
		{"arn:aws:ec2:eu-*1:*:x", "arn:aws:ec2:eu-west:1:*:x", false},
		{"a*b*c", "*x*", true},
		{"abc", "abd", false},
		{"a?c", "?b?", true},
		{"", "*", true},
		{"", "?", false},
	}
	for _, tc := range cases {
		b := arn(tc.b)
		if svc, acct, ok := strings.Cut(tc.b, ":"); ok && !strings.HasPrefix(tc.b, "arn:") {
			// The pattern of a request for "*": a service in an account.
			b = serviceARN("aws", svc, acct)
		}
		if got := intersect(arn(tc.a), b); got != tc.want {
			t.Errorf("intersect(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := intersect(b, arn(tc.a)); got != tc.want {
			t.Errorf("intersect(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

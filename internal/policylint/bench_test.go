package policylint

import (
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/policygen"
)

func benchSpec(b *testing.B) *policygen.Spec {
	s, err := policygen.Build(policygen.Options{Group: "ec2Admins", Grant: []string{"ec2:*", "s3:Get*"},
		MaxSessionAge: time.Hour, AllowCIDR: []string{"203.0.113.0/24", "2001:db8::/32"}, AllowVPCE: []string{"vpce-1a2b3c4d"}, Members: []string{"alice"}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// A repository-wide lint reads many policies; one must cost microseconds.
func BenchmarkLintJSON(b *testing.B) {
	doc, err := policygen.JSON(benchSpec(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LintJSON("p.json", doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLintTerraform(b *testing.B) {
	src := policygen.Terraform(benchSpec(b))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LintTerraform("main.tf", src); err != nil {
			b.Fatal(err)
		}
	}
}

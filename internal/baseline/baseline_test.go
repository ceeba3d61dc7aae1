package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/keywarden/keywarden/internal/goldentest"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/keywarden/keywarden/internal/policygen"
	"github.com/keywarden/keywarden/internal/policylint"
	"github.com/keywarden/keywarden/internal/report"
	"go.yaml.in/yaml/v3"
)

var (
	varRef = regexp.MustCompile(`\bvar\.([a-z_]+)`)

	usEast1Provider = regexp.MustCompile(`(?m)^\s*provider\s*=\s*aws\.us_east_1$`)
)

// variants are the default baseline and three others that change every
// branch of the renderers.
var variants = []struct {
	name string
	opts Options
}{
	{"default", Options{}},
	{"org-lock-eu", Options{Region: "eu-west-1", Org: true, ObjectLock: true, ObjectLockDays: 90,
		Emails: []string{"oncall@example.com", "security@example.com"}}},
	{"alerts-cost", Options{Parts: []Part{PartAlerts, PartCost}, Region: "ap-southeast-2", Name: "acme",
		Budget: 1200, AnomalyThreshold: 250, Emails: []string{"finops@example.com"}}},
	{"detectors-identity", Options{Parts: []Part{PartDetectors, PartIdentity}, MaxKeyAge: 30, MaxUnusedDays: 60,
		MFA: policygen.Options{Group: "key-holders", AllowCIDR: []string{"203.0.113.0/24", "2001:db8::/32"}}}},
}

func plan(t *testing.T, o Options) *Plan {
	t.Helper()
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGolden(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			p := plan(t, v.opts)
			for name, data := range Terraform(p) {
				goldentest.Check(t, filepath.Join(v.name, "terraform", name), data)
			}
			goldentest.Check(t, filepath.Join(v.name, "cloudformation.yaml"), CloudFormation(p))
		})
	}
}

// TestTerraformParsesAndIsFormatted: every file parses as HCL, is stable
// under hclwrite.Format, and the module declares every variable it uses
// and has exactly one terraform block.
func TestTerraformParsesAndIsFormatted(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			files := Terraform(plan(t, v.opts))
			for _, want := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf"} {
				if _, ok := files[want]; !ok {
					t.Errorf("no %s", want)
				}
			}
			declared, used := map[string]bool{}, map[string]bool{}
			terraformBlocks, resources := 0, map[string]bool{}
			for name, data := range files {
				if !bytes.Equal(hclwrite.Format(data), data) {
					t.Errorf("%s is not in canonical format", name)
				}
				f, diags := hclsyntax.ParseConfig(data, name, hcl.InitialPos)
				if diags.HasErrors() {
					t.Fatalf("%s: %s", name, diags)
				}
				for _, blk := range f.Body.(*hclsyntax.Body).Blocks {
					switch blk.Type {
					case "terraform":
						terraformBlocks++
					case "variable":
						declared[blk.Labels[0]] = true
					case "resource":
						key := blk.Labels[0] + "." + blk.Labels[1]
						if resources[key] {
							t.Errorf("resource %s declared twice", key)
						}
						resources[key] = true
					}
				}
				for _, m := range varRef.FindAllStringSubmatch(string(data), -1) {
					used[m[1]] = true
				}
			}
			if terraformBlocks != 1 {
				t.Errorf("%d terraform blocks, want 1", terraformBlocks)
			}
			for u := range used {
				if !declared[u] {
					t.Errorf("var.%s is used but not declared", u)
				}
			}
		})
	}
}

// TestPoliciesLintClean: `keywarden policy lint` passes at low on every
// policy document inside the output, as rendered (where placeholders are
// expressions it skips) and with every placeholder filled in (where it
// sees the whole document).
func TestPoliciesLintClean(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			p := plan(t, v.opts)
			inputs := map[string][]byte{"cloudformation.yaml": CloudFormation(p)}
			for name, data := range Terraform(p) {
				inputs[name] = data
			}
			for i, d := range p.documents() {
				inputs[string(rune('a'+i))+".json"] = resolved(t, d)
			}
			for name, data := range inputs {
				fs, err := policylint.LintFile(name, data)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, f := range fs {
					if f.Severity >= report.SeverityLow {
						t.Errorf("%s: %s %s: %s", name, f.RuleID, f.Title, f.Message)
					}
				}
			}
		})
	}
}

// resolved renders a policy document as JSON with its placeholders
// filled in with example values.
func resolved(t *testing.T, d map[string]any) []byte {
	t.Helper()
	var fill func(v any) any
	fill = func(v any) any {
		switch v := v.(type) {
		case tmpl:
			return strings.NewReplacer("{partition}", "aws", "{account}", "111122223333", "{region}", "eu-west-1",
				"{bucket_arn}", "arn:aws:s3:::keywarden-logs-1", "{org_id}", "o-abcdefghij",
				"{topic_arn}", "arn:aws:sns:us-east-1:111122223333:keywarden-alerts").Replace(string(v))
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = fill(e)
			}
			return out
		case map[string]any:
			out := map[string]any{}
			for k, e := range v {
				out[k] = fill(e)
			}
			return out
		}
		return v
	}
	b, err := json.MarshalIndent(fill(d), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("{")) && bytes.Contains(b, []byte("_arn}")) {
		t.Fatalf("a placeholder is left: %s", b)
	}
	return b
}

func TestNewPlanRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"email", Options{Emails: []string{"not an address"}}, "email"},
		{"email with name", Options{Emails: []string{"Ops <ops@example.com>"}}, "email"},
		{"email without domain dot", Options{Emails: []string{"ops@localhost"}}, "email"},
		{"negative budget", Options{Budget: -5}, "budget"},
		{"huge budget", Options{Budget: 2e9}, "budget"},
		{"region", Options{Region: "europe"}, "region"},
		{"region injection", Options{Region: "us-east-1\"\n}"}, "region"},
		{"key age", Options{MaxKeyAge: 400}, "key age"},
		{"unused age", Options{MaxUnusedDays: -1}, "unused"},
		{"lock days", Options{ObjectLockDays: -3}, "object lock"},
		{"name", Options{Name: "Bad Name"}, "name"},
		{"part", Options{Parts: []Part{"firewall"}}, "part"},
		{"cidr", Options{MFA: policygen.Options{AllowCIDR: []string{"10.0.0.0/33"}}}, "MFA guard"},
		{"cidr ignored without identity", Options{Parts: []Part{PartTrail}, MFA: policygen.Options{AllowCIDR: []string{"10.0.0.0/33"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

// TestGlobalRulesInUSEast1: every rule on events AWS delivers only to
// us-east-1 is created through the us-east-1 provider (Terraform) and
// under the us-east-1 condition (CloudFormation).
func TestGlobalRulesInUSEast1(t *testing.T) {
	p := plan(t, Options{Region: "eu-central-1"})
	main := string(Terraform(p)["main.tf"])
	var tmplDoc yaml.Node
	if err := yaml.Unmarshal(CloudFormation(p), &tmplDoc); err != nil {
		t.Fatal(err)
	}
	resources := mapping(t, mapping(t, tmplDoc.Content[0])["Resources"])
	for _, a := range Alerts() {
		src, _ := json.Marshal(a.Pattern)
		global := strings.Contains(string(src), `"aws.iam"`) || strings.Contains(string(src), `"aws.signin"`) ||
			strings.Contains(string(src), `"aws.health"`) || strings.Contains(string(src), "Root")
		if global != a.Global {
			t.Errorf("%s: Global = %v, but its pattern is for %s", a.ID, a.Global, src)
		}
		id := strings.ReplaceAll(a.ID, "-", "_")
		blk := main[strings.Index(main, `resource "aws_cloudwatch_event_rule" "`+id+`"`):]
		blk = blk[:strings.Index(blk, "\n}\n")]
		if usEast1Provider.MatchString(blk) != a.Global {
			t.Errorf("terraform rule %s: us-east-1 provider = %v, want %v", a.ID, !a.Global, a.Global)
		}
		cond := resources["Rule"+camel(a.ID)]
		want := map[bool]string{true: condGlobal, false: condHome}[a.Global]
		if got := scalar(mapping(t, cond)["Condition"]); got != want {
			t.Errorf("cloudformation rule %s: condition %q, want %q", a.ID, got, want)
		}
	}
}

func mapping(t *testing.T, n *yaml.Node) map[string]*yaml.Node {
	t.Helper()
	if n.Kind != yaml.MappingNode {
		t.Fatalf("not a mapping at line %d", n.Line)
	}
	m := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = n.Content[i+1]
	}
	return m
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

func TestConfigRulesAreTheDocumentedOnes(t *testing.T) {
	var ids []string
	for _, r := range plan(t, Options{}).ConfigRules() {
		ids = append(ids, r.Identifier)
	}
	sort.Strings(ids)
	want := []string{"ACCESS_KEYS_ROTATED", "IAM_PASSWORD_POLICY", "IAM_ROOT_ACCESS_KEY_CHECK", "IAM_USER_MFA_ENABLED",
		"IAM_USER_NO_POLICIES_CHECK", "IAM_USER_UNUSED_CREDENTIALS_CHECK", "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS",
		"MULTI_REGION_CLOUD_TRAIL_ENABLED", "ROOT_ACCOUNT_MFA_ENABLED"}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("rules %v, want %v", ids, want)
	}
}

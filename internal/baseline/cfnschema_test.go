package baseline

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/schema"
	"go.yaml.in/yaml/v3"
)

// The CloudFormation resource specification, as the JSON schema that
// goformation (awslabs/goformation, Apache-2.0) generates from it: every
// resource type and property name of the templates is checked against it,
// so a misspelt property fails here rather than at deploy time.

type jsonSchema struct {
	Ref                  string                 `json:"$ref"`
	Type                 any                    `json:"type"`
	Properties           map[string]*jsonSchema `json:"properties"`
	Items                *jsonSchema            `json:"items"`
	Required             []string               `json:"required"`
	AdditionalProperties any                    `json:"additionalProperties"`
	AnyOf                []*jsonSchema          `json:"anyOf"`
	Enum                 []any                  `json:"enum"`
}

type cfnSpec struct {
	Definitions map[string]*jsonSchema `json:"definitions"`
}

func loadCFNSpec(t *testing.T) *cfnSpec {
	t.Helper()
	var s cfnSpec
	if err := json.Unmarshal([]byte(schema.CloudformationSchema), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func (s *cfnSpec) resolve(sc *jsonSchema) *jsonSchema {
	for sc != nil && sc.Ref != "" {
		sc = s.Definitions[strings.TrimPrefix(sc.Ref, "#/definitions/")]
	}
	return sc
}

// check walks a template value against its schema and reports unknown
// properties, missing required ones and values of the wrong kind. Values
// from intrinsic functions (tagged !Ref, !Sub, ... or Fn:: mappings) are
// accepted wherever a value goes.
func (s *cfnSpec) check(t *testing.T, where string, sc *jsonSchema, n *yaml.Node) {
	t.Helper()
	sc = s.resolve(sc)
	if sc == nil {
		return
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return
	}
	if len(sc.AnyOf) > 0 {
		return // a choice of shapes (intrinsics or literals): not checked deeper
	}
	typ, _ := sc.Type.(string)
	switch typ {
	case "object":
		if n.Kind != yaml.MappingNode {
			t.Errorf("%s: want an object, got %s", where, n.ShortTag())
			return
		}
		if len(n.Content) == 2 && strings.HasPrefix(n.Content[0].Value, "Fn::") {
			return
		}
		if sc.Properties == nil {
			return // free-form (policy documents, event patterns)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			seen[k] = true
			ps, ok := sc.Properties[k]
			if !ok {
				t.Errorf("%s: unknown property %q", where, k)
				continue
			}
			s.check(t, where+"."+k, ps, n.Content[i+1])
		}
		for _, r := range sc.Required {
			if !seen[r] {
				t.Errorf("%s: required property %q is missing", where, r)
			}
		}
	case "array":
		if n.Kind != yaml.SequenceNode {
			t.Errorf("%s: want a list, got %s", where, n.ShortTag())
			return
		}
		for i, e := range n.Content {
			s.check(t, where+"["+string(rune('0'+i%10))+"]", sc.Items, e)
		}
	case "string", "number", "boolean":
		if n.Kind != yaml.ScalarNode {
			t.Errorf("%s: want a %s, got %s", where, typ, n.ShortTag())
		}
	}
}

func TestCloudFormationMatchesResourceSpecification(t *testing.T) {
	spec := loadCFNSpec(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal(CloudFormation(plan(t, v.opts)), &doc); err != nil {
				t.Fatal(err)
			}
			top := mapping(t, doc.Content[0])
			for _, k := range []string{"AWSTemplateFormatVersion", "Description", "Parameters", "Conditions", "Resources"} {
				if top[k] == nil {
					t.Errorf("template has no %s", k)
				}
			}
			resources := top["Resources"]
			conditions := mapping(t, top["Conditions"])
			ids := map[string]bool{}
			for i := 0; i+1 < len(resources.Content); i += 2 {
				ids[resources.Content[i].Value] = true
			}
			for i := 0; i+1 < len(resources.Content); i += 2 {
				id, r := resources.Content[i].Value, mapping(t, resources.Content[i+1])
				typ := scalar(r["Type"])
				def, ok := spec.Definitions[typ]
				if !ok {
					t.Errorf("%s: unknown resource type %q", id, typ)
					continue
				}
				s := spec.resolve(def)
				s.Properties["Type"] = &jsonSchema{Type: "string"}
				spec.check(t, id, s, resources.Content[i+1])
				if c := scalar(r["Condition"]); c != "" && conditions[c] == nil {
					t.Errorf("%s: condition %q is not declared", id, c)
				}
				if d := r["DependsOn"]; d != nil {
					for _, dep := range d.Content {
						if !ids[dep.Value] {
							t.Errorf("%s depends on %q, which is not in the template", id, dep.Value)
						}
					}
				}
			}
		})
	}
}

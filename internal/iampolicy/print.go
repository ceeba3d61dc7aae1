package iampolicy

import (
	"bytes"
	"encoding/json"
)

// Document is a policy to be written out, built by generators. Field order
// follows AWS's own examples; empty elements are omitted.
type Document struct {
	Version   string         `json:"Version"`
	ID        string         `json:"Id,omitempty"`
	Statement []DocStatement `json:"Statement"`
}

// DocStatement is one statement of a Document. Condition maps operator to
// key to values; encoding/json writes map keys sorted, so output is stable.
type DocStatement struct {
	Sid          string                         `json:"Sid,omitempty"`
	Effect       Effect                         `json:"Effect"`
	Principal    any                            `json:"Principal,omitempty"`
	NotPrincipal any                            `json:"NotPrincipal,omitempty"`
	Action       StringOrList                   `json:"Action,omitempty"`
	NotAction    StringOrList                   `json:"NotAction,omitempty"`
	Resource     StringOrList                   `json:"Resource,omitempty"`
	NotResource  StringOrList                   `json:"NotResource,omitempty"`
	Condition    map[string]map[string][]string `json:"Condition,omitempty"`
}

// StringOrList marshals a single value as a string and several as a list,
// the way people write policies by hand.
type StringOrList []string

// MarshalJSON implements json.Marshaler.
func (s StringOrList) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// Marshal writes d as indented JSON with a trailing newline. HTML escaping
// is off so that "${aws:username}" and "&" stay readable.
func (d Document) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

package baseline

import (
	"encoding/json"
	"testing"
)

// FuzzAccountInput feeds what the check reads from an account (rule
// patterns and policy documents, both written by whoever administers it)
// to the code that judges them: no input may panic, and a pattern always
// covers itself when it parses.
func FuzzAccountInput(f *testing.F) {
	for _, a := range Alerts() {
		b, _ := json.Marshal(a.Pattern)
		f.Add(b)
	}
	f.Add([]byte(`{"Statement":{"Effect":"Deny","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":[false,"x",{}]}}}}`))
	f.Add([]byte(`{"detail":{"a":[{"prefix":{}}],"b":{"c":[null,1,true]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = HasMFAGuard(data)
		var p map[string]any
		if json.Unmarshal(data, &p) != nil {
			return
		}
		_ = PatternCovers(p, normalise(Alerts()[0].Pattern))
		if validPattern(p) && !PatternCovers(p, p) {
			t.Errorf("a pattern does not cover itself: %s", data)
		}
	})
}

// validPattern: objects of objects and lists, as EventBridge accepts.
func validPattern(p map[string]any) bool {
	for _, v := range p {
		switch v := v.(type) {
		case map[string]any:
			if !validPattern(v) {
				return false
			}
		case []any:
		default:
			return false
		}
	}
	return true
}

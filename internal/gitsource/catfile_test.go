package gitsource

import (
	"slices"
	"strings"
	"testing"
)

func TestBufferPool(t *testing.T) {
	tests := []struct {
		name     string
		max      int
		put      []int // capacities given back, in order
		get      int   // then one buffer of this length is asked for
		wantCap  int   // and has this capacity (a kept buffer's, or a new one's)
		wantKept int   // buffers the pool holds afterwards
	}{
		{name: "empty pool allocates at least 64 KB", max: 2, get: 10, wantCap: 64 << 10},
		{name: "a large blob gets its own size", max: 2, get: 100 << 10, wantCap: 100 << 10},
		{name: "reuses a buffer that fits", max: 2, put: []int{128 << 10}, get: 100 << 10, wantCap: 128 << 10},
		{name: "passes over one too small", max: 2, put: []int{64 << 10, 256 << 10}, get: 100 << 10, wantCap: 256 << 10, wantKept: 1},
		{name: "keeps at most max, the largest", max: 2, put: []int{64 << 10, 128 << 10, 512 << 10}, get: 300 << 10, wantCap: 512 << 10, wantKept: 1},
		{name: "never keeps a huge buffer", max: 2, put: []int{bufferKeep + 1}, get: 10, wantCap: 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newBufferPool(tt.max)
			for _, c := range tt.put {
				p.put(make([]byte, 3, c))
			}
			b := p.get(tt.get)
			if len(b) != tt.get || cap(b) != tt.wantCap {
				t.Errorf("get(%d): len %d cap %d, want len %d cap %d", tt.get, len(b), cap(b), tt.get, tt.wantCap)
			}
			if len(p.free) != tt.wantKept {
				t.Errorf("pool keeps %d buffers, want %d", len(p.free), tt.wantKept)
			}
		})
	}
}

// gitEnv must decide the settings that change what git runs or how it
// writes, whatever the caller's environment says.
func TestGitEnvOverridesTheCaller(t *testing.T) {
	t.Setenv("GIT_FLUSH", "1")
	t.Setenv("GIT_NO_REPLACE_OBJECTS", "0")
	t.Setenv("GIT_EXTERNAL_DIFF", "/bin/evil")
	got := map[string][]string{}
	for _, kv := range gitEnv() {
		name, value, _ := strings.Cut(kv, "=")
		got[name] = append(got[name], value)
	}
	for _, tt := range []struct {
		name string
		want []string // nil: absent
	}{
		{"GIT_FLUSH", []string{"0"}},
		{"GIT_NO_REPLACE_OBJECTS", []string{"1"}},
		{"GIT_EXTERNAL_DIFF", nil},
		{"GIT_NO_LAZY_FETCH", []string{"1"}},
	} {
		if !slices.Equal(got[tt.name], tt.want) {
			t.Errorf("%s = %q, want %q", tt.name, got[tt.name], tt.want)
		}
	}
}

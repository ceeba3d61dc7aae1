package detect

import (
	"path/filepath"
	"testing"
)

// The first call of a leaked key must be reported even when nothing is
// known of the key yet (a first run, --no-state, a key the baseline never
// saw): a key used from one address at 09:00 and checked with
// GetCallerIdentity from another at 09:20 is the textbook leak, and a
// warm-up that treats the key's first hour as its baseline would hide it.
func TestGetCallerIdentityNewSourceWithoutBaseline(t *testing.T) {
	// The address is on a network the account never used either: the
	// account rule reports it, and the key rule does not repeat it.
	rules := map[string]string{
		"ct-getcalleridentity-new-source":          "203.0.113.50",
		"ct-account-getcalleridentity-new-network": "203.0.113.0/24",
	}
	fs := run(t, nil, filepath.Join("testdata", "leak", "early.json"))
	var got []*Finding
	for _, f := range fs {
		if _, ok := rules[f.Rule.ID]; ok {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one GetCallerIdentity finding 20 minutes after the key's first use, got %d; fired: %v", len(got), fired(fs))
	}
	if f := got[0]; f.Rule.ID != "ct-account-getcalleridentity-new-network" || f.Value != rules[f.Rule.ID] || len(f.EventIDs) != 1 || f.EventIDs[0] != "5eed0000-0000-0000-0000-0000000001a2" {
		t.Errorf("finding = %s value %q events %v", f.Rule.ID, f.Value, f.EventIDs)
	}
	// The noisier first-seen rules keep their warm-up: a key's first hour
	// is its baseline for them.
	for _, id := range []string{"ct-first-seen-address", "ct-first-seen-network", "ct-first-seen-user-agent"} {
		if n := fired(fs)[id]; n != 0 {
			t.Errorf("%s fired %d times inside the warm-up", id, n)
		}
	}

	// Near miss: the key's very first event is GetCallerIdentity (what
	// Terraform and most SDK tools do at start): there is nothing before
	// it to be new against.
	miss := fired(run(t, nil, filepath.Join("testdata", "leak", "first-call.json")))
	for id := range rules {
		if miss[id] != 0 {
			t.Errorf("%s fired on the key's first event: %d", id, miss[id])
		}
	}
}

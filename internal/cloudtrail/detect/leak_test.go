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
	const rule = "ct-getcalleridentity-new-source"
	fs := run(t, nil, filepath.Join("testdata", "leak", "early.json"))
	var got *Finding
	for _, f := range fs {
		if f.Rule.ID == rule {
			got = f
		}
	}
	if got == nil {
		t.Fatalf("%s did not fire 20 minutes after the key's first use; fired: %v", rule, fired(fs))
	}
	if got.Value != "203.0.113.50" || len(got.EventIDs) != 1 || got.EventIDs[0] != "5eed0000-0000-0000-0000-0000000001a2" {
		t.Errorf("finding = value %q events %v", got.Value, got.EventIDs)
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
	if n := fired(run(t, nil, filepath.Join("testdata", "leak", "first-call.json")))[rule]; n != 0 {
		t.Errorf("%s fired on the key's first event: %d", rule, n)
	}
}

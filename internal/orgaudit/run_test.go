package orgaudit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/orgaudit"
)

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// flatTree is an organization of n accounts under the root.
func flatTree(n int) (*orgaudit.Tree, []orgaudit.Account) {
	o := &orgaudit.Organization{Organization: orgaudit.OrgInfo{ID: "o-test", MasterAccountID: "100000000000"},
		Roots: []orgaudit.Root{{ID: "r-1", Name: "Root"}}}
	for i := 0; i < n; i++ {
		o.Accounts = append(o.Accounts, orgaudit.Account{ID: fmt.Sprintf("1%011d", i), Name: fmt.Sprintf("acct%d", i), ParentID: "r-1"})
	}
	t := orgaudit.NewTree(o)
	return t, t.Accounts
}

// TestRunParallelBound holds every loader until the bound is reached, then
// lets them go one at a time: more than Parallel loaders never run at once,
// and the bound is reached (the accounts do run concurrently).
func TestRunParallelBound(t *testing.T) {
	for _, parallel := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			tree, accounts := flatTree(12)
			var mu sync.Mutex
			inflight, most := 0, 0
			started := make(chan struct{}, len(accounts))
			release := make(chan struct{})
			load := func(_ context.Context, a orgaudit.Account) (*inventory.Account, error) {
				mu.Lock()
				inflight++
				most = max(most, inflight)
				mu.Unlock()
				started <- struct{}{}
				<-release
				mu.Lock()
				inflight--
				mu.Unlock()
				inv := inventory.New()
				inv.ID = a.ID
				return inv, nil
			}
			done := make(chan *orgaudit.Result)
			go func() {
				done <- orgaudit.Run(context.Background(), tree, accounts, load, orgaudit.Options{Audit: audit.Options{Now: now}, Parallel: parallel})
			}()
			bound := min(parallel, len(accounts))
			for i := 0; i < bound; i++ {
				<-started
			}
			for i := 0; i < len(accounts); i++ {
				release <- struct{}{}
			}
			res := <-done
			if most != bound {
				t.Errorf("at most %d loaders at once, want exactly %d", most, bound)
			}
			if res.Failed != 0 || len(res.Accounts) != len(accounts) {
				t.Errorf("failed %d, accounts %d", res.Failed, len(res.Accounts))
			}
		})
	}
}

// TestRunFailures: an account that keeps failing is retried with the
// injected backoff and reported; one failing once is audited on the
// second attempt; a permanent error is not retried; the others go on.
func TestRunFailures(t *testing.T) {
	tree, accounts := flatTree(5)
	errThrottled := errors.New("Throttling: rate exceeded")
	calls := map[string]int{}
	var mu sync.Mutex
	load := func(_ context.Context, a orgaudit.Account) (*inventory.Account, error) {
		mu.Lock()
		calls[a.ID]++
		n := calls[a.ID]
		mu.Unlock()
		switch a.Name {
		case "acct1": // always throttled
			return nil, errThrottled
		case "acct2": // once
			if n == 1 {
				return nil, errThrottled
			}
		case "acct3":
			return nil, orgaudit.Permanent(errors.New("access denied to sts:AssumeRole"))
		case "acct4": // exports of another account
			inv := inventory.New()
			inv.ID = "999999999999"
			return inv, nil
		}
		inv := inventory.New()
		inv.ID = a.ID
		return inv, nil
	}
	var slept []time.Duration
	var progress []string
	res := orgaudit.Run(context.Background(), tree, accounts, load, orgaudit.Options{
		Audit: audit.Options{Now: now}, Parallel: 1, Attempts: 3,
		Backoff: func(n int) time.Duration { return time.Duration(n) * time.Minute },
		Sleep: func(_ context.Context, d time.Duration) error {
			slept = append(slept, d)
			return nil
		},
		Progress: func(done, total int) { progress = append(progress, fmt.Sprintf("%d/%d", done, total)) },
	})
	if got := strings.Join(progress, " "); got != "1/5 2/5 3/5 4/5 5/5" {
		t.Errorf("progress %s", got)
	}
	tests := []struct {
		account  string
		attempts int
		err      string
	}{
		{"acct0", 1, ""},
		{"acct1", 3, "Throttling: rate exceeded"},
		{"acct2", 2, ""},
		{"acct3", 1, "access denied to sts:AssumeRole"},
		{"acct4", 1, "is of account 999999999999"},
	}
	for i, tc := range tests {
		ar := res.Accounts[i]
		if ar.Name != tc.account || ar.Attempts != tc.attempts || !strings.Contains(ar.Error, tc.err) || (tc.err == "") != (ar.Error == "") {
			t.Errorf("%s: %d attempts, error %q; want %d, %q", ar.Name, ar.Attempts, ar.Error, tc.attempts, tc.err)
		}
		if (tc.err == "") != (ar.Result != nil) {
			t.Errorf("%s: audit result present %v", ar.Name, ar.Result != nil)
		}
	}
	// acct1 waits 1m then 2m; acct2 waits 1m (in either order).
	slices.Sort(slept)
	if got := fmt.Sprint(slept); got != "[1m0s 1m0s 2m0s]" {
		t.Errorf("slept %s", got)
	}
	if res.Failed != 3 {
		t.Errorf("failed %d, want 3", res.Failed)
	}
	failed := 0
	for _, f := range res.Findings {
		if f.RuleID == orgaudit.RuleAccountFailed {
			failed++
			if acct, _ := f.Properties["account"].(string); acct == "" || !strings.Contains(f.Message, acct) {
				t.Errorf("failed-account finding without its account: %+v", f)
			}
		}
	}
	if failed != 3 {
		t.Errorf("%d failed-account findings, want 3", failed)
	}
}

// TestRunCancelled: once the context ends, accounts not yet started fail
// with its error instead of waiting for a slot.
func TestRunCancelled(t *testing.T) {
	tree, accounts := flatTree(4)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	load := func(_ context.Context, a orgaudit.Account) (*inventory.Account, error) {
		calls++ // Parallel 1: one loader at a time
		cancel()
		return nil, orgaudit.Permanent(context.Canceled)
	}
	res := orgaudit.Run(ctx, tree, accounts, load, orgaudit.Options{Audit: audit.Options{Now: now}, Parallel: 1})
	if res.Failed != len(accounts) || calls != 1 {
		t.Errorf("failed %d of %d, loader called %d times (want once)", res.Failed, len(accounts), calls)
	}
}

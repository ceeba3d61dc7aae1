// Package clock holds the one wait every polling and retrying loop of
// keywarden shares: a sleep that ends early when its context does, so
// Ctrl-C stops a backoff at once. Loops take it as an injectable value
// (tests pass a recorder instead, never a wall-clock wait).
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

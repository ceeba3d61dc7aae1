// Package notifytest has test doubles for delivery: a webhook that fails
// on cue, and a sleep that only records. It is imported only from
// _test.go files.
package notifytest

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Webhook answers each request with the next status of Script (with the
// matching RetryAfter header, when set), then 200, keeping the bodies it
// accepted.
type Webhook struct {
	Script     []int
	RetryAfter []string

	mu     sync.Mutex
	calls  int
	bodies []string
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	i := h.calls
	h.calls++
	if i < len(h.Script) {
		if i < len(h.RetryAfter) && h.RetryAfter[i] != "" {
			w.Header().Set("Retry-After", h.RetryAfter[i])
		}
		w.WriteHeader(h.Script[i])
		io.WriteString(w, "nope")
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	h.bodies = append(h.bodies, string(body))
	io.WriteString(w, "ok")
}

// Bodies are the accepted requests' bodies.
func (h *Webhook) Bodies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// Sleeper records the waits it is asked for and returns at once.
type Sleeper struct{ Waits []time.Duration }

// Sleep records d.
func (s *Sleeper) Sleep(_ context.Context, d time.Duration) error {
	s.Waits = append(s.Waits, d)
	return nil
}

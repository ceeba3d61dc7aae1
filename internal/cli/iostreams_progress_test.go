package cli

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The progress line is drawn only on a terminal, redrawn in place, and
// cleared by stop, after which nothing more is drawn.
func TestStartProgress(t *testing.T) {
	t.Run("terminal", func(t *testing.T) {
		ios, _, errOut := Test("")
		ios.SetTTY(false, false, true)
		var calls atomic.Int64
		stop := ios.StartProgress(time.Millisecond, func() string {
			return "step " + string(rune('0'+calls.Add(1)%10))
		})
		deadline := time.Now().Add(5 * time.Second)
		for calls.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		stop()
		got := errOut.String()
		if calls.Load() < 2 || !strings.HasPrefix(got, "\r\x1b[Kstep ") {
			t.Fatalf("after %d calls stderr is %q, want redrawn progress lines", calls.Load(), got)
		}
		if !strings.HasSuffix(got, "\r\x1b[K") || strings.Count(got, "\r\x1b[K") != int(calls.Load())+1 {
			t.Fatalf("stderr %q: want one line per call (%d), then one clear", got, calls.Load())
		}
		n := len(got)
		time.Sleep(10 * time.Millisecond)
		if errOut.Len() != n {
			t.Fatalf("drawn after stop: %q", errOut.String()[n:])
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		ios, _, errOut := Test("")
		stop := ios.StartProgress(time.Millisecond, func() string { t.Error("line asked for"); return "" })
		time.Sleep(10 * time.Millisecond)
		stop()
		if errOut.Len() != 0 {
			t.Fatalf("stderr %q, want nothing when it is not a terminal", errOut.String())
		}
	})
}

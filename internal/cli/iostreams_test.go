package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// RenderReport writes to stdout with the terminal's colour, or to a 0600
// file without colour; a failed render leaves no file, and a path that
// cannot be written is a usage error.
func TestRenderReport(t *testing.T) {
	render := func(w io.Writer, color bool) error {
		_, err := fmt.Fprintf(w, "colour=%v\n", color)
		return err
	}
	t.Run("stdout", func(t *testing.T) {
		ios, out, _ := Test("")
		ios.SetTTY(false, true, false)
		ios.SetColor(true)
		if err := ios.RenderReport("", render); err != nil {
			t.Fatal(err)
		}
		if out.String() != "colour=true\n" {
			t.Fatalf("stdout %q", out.String())
		}
	})
	t.Run("file", func(t *testing.T) {
		ios, out, _ := Test("")
		ios.SetTTY(false, true, false)
		ios.SetColor(true)
		path := filepath.Join(t.TempDir(), "report.txt")
		if err := ios.RenderReport(path, render); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil || string(data) != "colour=false\n" || out.Len() != 0 {
			t.Fatalf("file %q (%v), stdout %q", data, err, out.String())
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
		}
	})
	t.Run("failed render", func(t *testing.T) {
		ios, _, _ := Test("")
		path := filepath.Join(t.TempDir(), "report.txt")
		boom := errors.New("boom")
		err := ios.RenderReport(path, func(w io.Writer, _ bool) error {
			fmt.Fprint(w, "half a report")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("error %v, want the render's", err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("a failed render left %s (%v)", path, err)
		}
	})
	t.Run("unwritable path", func(t *testing.T) {
		ios, _, _ := Test("")
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "report.txt")
		err := ios.RenderReport(path, render)
		if ExitCode(err) != ExitError {
			t.Fatalf("error %v (exit %d), want a usage error", err, ExitCode(err))
		}
	})
}

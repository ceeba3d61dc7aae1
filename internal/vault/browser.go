package vault

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
)

// OpenBrowser opens url in the desktop's browser, where there is one: a
// graphical session on Linux (DISPLAY or WAYLAND_DISPLAY) with xdg-open,
// macOS's open, Windows' rundll32. It does not wait for the browser.
func OpenBrowser(url string, getenv func(string) string) error {
	var argv []string
	switch runtime.GOOS {
	case "darwin":
		argv = []string{"open", url}
	case "windows":
		argv = []string{"rundll32", "url.dll,FileProtocolHandler", url}
	default:
		if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no graphical session")
		}
		argv = []string{"xdg-open", url}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = withoutPassphrase(os.Environ())
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

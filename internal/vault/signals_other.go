//go:build !unix

package vault

import "os"

// forwardedSignals are passed on to the child of exec.
var forwardedSignals = []os.Signal{os.Interrupt}

func isTerminalSignal(s os.Signal) bool { return s == os.Interrupt }

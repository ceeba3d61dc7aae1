//go:build !linux

package keycache

import (
	"errors"
	"time"
)

// Keyctl is the Linux kernel keyring; elsewhere it is never available.
type Keyctl struct{}

var errNoKeyctl = errors.New("the kernel keyring is Linux only")

func (Keyctl) Name() string                            { return "the kernel keyring" }
func (Keyctl) Put(string, []byte, time.Duration) error { return errNoKeyctl }
func (Keyctl) Get(string) ([]byte, error)              { return nil, ErrNotCached }
func (Keyctl) Forget(string) error                     { return ErrNotCached }

// Package lazyregexp compiles package-level regular expressions on first
// use instead of at program start. Every keywarden command starts the same
// binary, the pre-commit hook's `scan --staged` among them, so an
// expression compiled at init is paid for by commands that never use it;
// bounded repetitions such as {1,255} cost thousands of allocations.
package lazyregexp

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr the first time it is called
// and returns the same *regexp.Regexp after that. Like regexp.MustCompile
// it panics on an invalid expression: the tests that use it catch that.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

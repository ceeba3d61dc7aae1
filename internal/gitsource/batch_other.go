//go:build !linux

package gitsource

import "os/exec"

// batchedAnswers reads cat-file's answers with blocking reads where
// FIONREAD on a pipe is not relied on (see batch_linux.go).
func batchedAnswers(cmd *exec.Cmd, size int) (answerPipe, error) {
	return plainAnswers(cmd, size)
}

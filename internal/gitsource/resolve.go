package gitsource

import (
	"context"
	"os"
)

// IsRepository reports whether dir is a directory git works in: a work
// tree (or a directory inside one), a .git directory or a bare
// repository.
func IsRepository(ctx context.Context, dir string) bool {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false
	}
	_, err := output(ctx, dir, "rev-parse", "--git-dir")
	return err == nil
}

// IsRevision reports whether rng, as Options.RevRange takes it
// ("main..feature", "v1.2.0..", "--branches --not main"), names commits
// of the repository in repoDir. A range with an option that is not
// allowed is an error; one git does not resolve is not a revision.
func IsRevision(ctx context.Context, repoDir, rng string) (bool, error) {
	revs, err := revArgs(rng)
	if err != nil {
		return false, err
	}
	args := append([]string{"rev-list", "--max-count=0"}, revs...)
	_, err = output(ctx, repoDir, append(args, "--")...)
	return err == nil, nil
}

// Package laptop finds the plain-text AWS keys lying around a machine (the
// AWS CLI's files, the environment, shell start-up files and histories,
// project files such as .env and tfvars, other tools' configs) and plans
// the safe rewrites that remove them once they are in keywarden's store.
//
// Everything that decides (where to look, how each file form is parsed,
// what a finding is, what the rewritten bytes are) is pure code over bytes
// and paths, so that it is tested exhaustively and fuzzed. The thin layer
// in fsys.go reads files (size-limited, symbolic links resolved), walks the
// roots, and applies a plan: an atomic write (temporary file, fsync,
// rename) that keeps the file's mode and owner, refuses a file that changed
// since it was read, and re-reads the result to prove the secret is gone.
package laptop

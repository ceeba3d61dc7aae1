// Package vault keeps long-term AWS access keys safe on the laptop and turns
// them into short-lived MFA sessions.
//
// Keys live in a Store: the operating system's keychain (through
// github.com/99designs/keyring: Secret Service, macOS Keychain, Windows
// Credential Manager, pass, keyctl) or an age-encrypted file where no
// keychain exists (headless Linux, WSL, CI). Nothing is ever written in
// plain text, and item names carry no more than the profile name, so a
// listing of the keychain tells an attacker only which profiles exist.
//
// Sessions come from STS: GetSessionToken with MFA for plain profiles. A
// role profile asking for at most an hour (the default) gets AssumeRole
// signed with that same MFA session, so one MFA code serves every profile
// on the key and device; a role asking for longer gets AssumeRole with an
// MFA code directly from the long-term key, since STS caps a role assumed
// with temporary credentials at one hour. Sessions are cached in the same
// store and reused until five minutes before they expire; a chained role
// session is renewed from the MFA session without a code until the MFA
// session itself runs out.
//
// The clock, the MFA source and the STS and IAM clients are fields, so the
// whole flow is tested without a terminal, a wall clock or AWS.
package vault

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
// Sessions come from STS: GetSessionToken with MFA for plain profiles, and
// AssumeRole with MFA directly from the long-term key for role profiles, so
// that the one-hour cap on chained roles does not apply. They are cached in
// the same store and reused until five minutes before they expire; one MFA
// session serves every plain profile that uses the same key and MFA device.
//
// The clock, the MFA source and the STS and IAM clients are fields, so the
// whole flow is tested without a terminal, a wall clock or AWS.
package vault

package awskey

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
)

// secretAlphabet is the character set of secret access keys.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"

// NewID builds a well-formed ID with the given prefix that encodes account,
// with its remaining bits read from r. Like AWS's, the top bit is set to
// mark an ID that carries its account. Tests and benchmarks plant these
// instead of copying real keys from anywhere.
func NewID(prefix string, account uint64, r io.Reader) (string, error) {
	if len(prefix) != 4 || KindOf(prefix) == KindUnknown {
		return "", fmt.Errorf("awskey: unknown prefix %q", prefix)
	}
	if account > 999999999999 {
		return "", fmt.Errorf("awskey: account %d has more than 12 digits", account)
	}
	var raw [10]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return "", err
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], 1<<47|account<<7|uint64(raw[5]&0x7f))
	copy(raw[:6], b[2:])
	return prefix + base32.StdEncoding.EncodeToString(raw[:]), nil
}

// NewSecret builds a random 40-character secret access key from r.
func NewSecret(r io.Reader) (string, error) {
	var raw [SecretLength]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return "", err
	}
	for i, c := range raw {
		raw[i] = secretAlphabet[c&63]
	}
	return string(raw[:]), nil
}

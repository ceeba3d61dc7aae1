package vault

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// The encrypted file, version 2, is one header line followed by an age
// file:
//
//	keywarden-vault/v2 scrypt LOGN SALT
//	age-encryption.org/v1
//	...
//
// The passphrase is stretched once with scrypt (N = 2^LOGN, r = 8, p = 1,
// the header's salt) into a 32-byte derived key, and the age file is
// encrypted to that key (as an age passphrase, with a low age work
// factor: the key is already 256 bits of scrypt output). The derived key,
// not the passphrase, is what `keywarden unlock` keeps in the kernel
// keyring or the agent: it opens this store and nothing else, and it
// serves writes too (each write makes a new age file key and salt; only
// the header's salt stays). Version 1 files (a bare age file encrypted
// to the passphrase) are still read, and written as version 2 at the
// next write.

// fileHeaderMagic starts a version 2 file.
const fileHeaderMagic = "keywarden-vault/v2"

// maxFileHeader bounds the header line.
const maxFileHeader = 256

// derivedKeyLen is the length of the derived key.
const derivedKeyLen = 32

// innerWorkFactor is age's scrypt work factor over the derived key.
const innerWorkFactor = 10

// minFileWorkFactor is the lowest header work factor accepted: a planted
// header cannot make the passphrase cheap to guess.
const minFileWorkFactor = 10

// fileKDF is a version 2 header: how the passphrase becomes the key.
type fileKDF struct {
	LogN int
	Salt []byte
}

func newFileKDF(logN int) (*fileKDF, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return &fileKDF{LogN: logN, Salt: salt}, nil
}

// line is the header line, newline included.
func (k *fileKDF) line() []byte {
	return fmt.Appendf(nil, "%s scrypt %d %s\n", fileHeaderMagic, k.LogN, base64.RawStdEncoding.EncodeToString(k.Salt))
}

// derive stretches the passphrase into the derived key.
func (k *fileKDF) derive(pass string) ([]byte, error) {
	return scrypt.Key([]byte(pass), k.Salt, 1<<k.LogN, 8, 1, derivedKeyLen)
}

// cacheID names the derived key of the store at path (absolute) in an
// unlock cache: a hash, so the cache's listing shows no path, and a new
// store at the same path (a new salt) never meets an old key.
func (k *fileKDF) cacheID(path string) string {
	h := sha256.New()
	h.Write([]byte("keywarden unlock v1\x00"))
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(k.Salt)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// keyPassphrase is the age passphrase a derived key stands for.
func keyPassphrase(key []byte) string {
	return "keywarden-derived-key:" + base64.RawStdEncoding.EncodeToString(key)
}

// splitFileHeader separates a version 2 header from the age file that
// follows it. A file without the magic is version 1: kdf is nil and body
// is data. A file with the magic and a malformed header is refused, with
// the field that is wrong.
func splitFileHeader(data []byte) (kdf *fileKDF, body []byte, err error) {
	if !bytes.HasPrefix(data, []byte(fileHeaderMagic)) {
		return nil, data, nil
	}
	head := data
	if len(head) > maxFileHeader {
		head = head[:maxFileHeader]
	}
	nl := bytes.IndexByte(head, '\n')
	if nl < 0 {
		return nil, nil, fmt.Errorf("line 1: the header has no end within %d bytes", maxFileHeader)
	}
	fields := strings.Split(string(head[:nl]), " ")
	if len(fields) != 4 {
		return nil, nil, fmt.Errorf("line 1: the header has %d fields, want 4", len(fields))
	}
	if fields[1] != "scrypt" {
		return nil, nil, fmt.Errorf("line 1, field 2: unknown key derivation %q", fields[1])
	}
	logN, err := strconv.Atoi(fields[2])
	if err != nil || logN < minFileWorkFactor || logN > maxFileWorkFactor {
		return nil, nil, fmt.Errorf("line 1, field 3: work factor %q is not a number from %d to %d", fields[2], minFileWorkFactor, maxFileWorkFactor)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(fields[3])
	if err != nil || len(salt) < 16 || len(salt) > 64 {
		return nil, nil, fmt.Errorf("line 1, field 4: the salt is not 16 to 64 bytes of unpadded base64")
	}
	return &fileKDF{LogN: logN, Salt: salt}, data[nl+1:], nil
}

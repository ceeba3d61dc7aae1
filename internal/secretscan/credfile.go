package secretscan

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/keywarden/keywarden/internal/awskey"
)

// KeyIDsFromCredentials returns the access key IDs of an AWS shared
// credentials file (~/.aws/credentials): the values of its
// aws_access_key_id settings that are well-formed credential IDs. Secrets
// are not read.
func KeyIDsFromCredentials(data []byte) []string {
	var ids []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "aws_access_key_id") {
			continue
		}
		id := strings.TrimSpace(value)
		if awskey.ValidCredentialID(id) && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

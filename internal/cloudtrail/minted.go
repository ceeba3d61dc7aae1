package cloudtrail

import (
	"maps"
	"slices"
)

// MintedKeyEvents names the calls that hand out new credentials (those
// MintedKeyPath knows), sorted: a query that must return every such call
// (detect --athena with --key) selects them by name.
func MintedKeyEvents() []string { return slices.Sorted(maps.Keys(mintedKeyPaths)) }

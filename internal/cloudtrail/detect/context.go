package detect

import (
	"maps"
	"slices"
)

// ContextEvents names the events the engine reads besides those its rules
// match: the calls from which it learns facts (which buckets receive
// CloudTrail logs, which roles were made administrators, which KMS keys
// are in use) that the fact-kind rules depend on. A source that returns
// only the events the rules match (detect --athena) must add these.
func ContextEvents() []string { return slices.Sorted(maps.Keys(learners())) }

// Values reads an operator's argument in a match block as the matcher
// does: a string, a number, a boolean or a list of them.
func Values(v any) ([]string, error) { return toStrings(v) }

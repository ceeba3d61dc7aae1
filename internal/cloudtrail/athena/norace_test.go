//go:build !race

package athena

const raceEnabled = false

//go:build race

package athena

// raceEnabled: under the race detector the DuckDB tests, which check SQL
// semantics and run no goroutines of ours, are skipped (they run in the
// plain test pass; instrumented, they took over ten minutes).
const raceEnabled = true

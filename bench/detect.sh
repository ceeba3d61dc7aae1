#!/usr/bin/env bash
# Benchmark `keywarden detect` against the floor: decompressing the same
# files with zcat. Generates (once) a synthetic CloudTrail corpus laid out
# like a trail bucket: AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/,
# FILES .json.gz files holding EVENTS records in the three shapes.
#
#   bash bench/detect.sh [DIR]   (default: $KEYWARDEN_BENCH_DIR/detect, /tmp/keywarden-bench/detect)
#   FILES=1000 EVENTS=1000000 RUNS=3 bash bench/detect.sh
#
# Prints events/s and the ratio of our wall time to zcat's (best of RUNS).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-${KEYWARDEN_BENCH_DIR:-/tmp/keywarden-bench}/detect}
FILES=${FILES:-1000}
EVENTS=${EVENTS:-1000000}
RUNS=${RUNS:-3}

command -v zcat >/dev/null || { echo "zcat is needed (apt-get install gzip)" >&2; exit 2; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/keywarden" ./cmd/keywarden
go build -o "$bin/detectgen" ./bench/detectgen

stamp="$DIR/.corpus-$FILES-$EVENTS"
if [ ! -f "$stamp" ]; then
	echo "generating $EVENTS events in $FILES files under $DIR ..." >&2
	rm -rf "$DIR"
	mkdir -p "$DIR"
	"$bin/detectgen" -out "$DIR" -files "$FILES" -events "$EVENTS"
	touch "$stamp"
fi
nfiles=$(find "$DIR" -name '*.json.gz' | wc -l)
bytes=$(du -sb "$DIR" | cut -f1)
# Warm the page cache so both sides read from memory.
find "$DIR" -name '*.json.gz' -print0 | xargs -0 cat >/dev/null

best() { sort -g | head -1; }
calc() { awk "BEGIN { print $1 }"; }
# timed CMD...: runs CMD, appends "wall cpu" (cpu = user + sys of the
# children) to $bin/times.
timed() {
	local TIMEFORMAT='%R %U %S'
	{ time "$@" >/dev/null 2>>"$bin/stderr"; } 2>"$bin/t"
	awk '{ print $1, $2 + $3 }' "$bin/t" >>"$bin/times.$1"
}
zcat_all() { find "$DIR" -name '*.json.gz' -print0 | xargs -0 zcat; }
ours() { "$bin/keywarden" detect --no-state --format json --fail-on none "$DIR"; }

: >"$bin/times.zcat_all"
: >"$bin/times.ours"
for _ in $(seq "$RUNS"); do
	: >"$bin/stderr"
	timed zcat_all
	timed ours
done
read_events=$(sed -n 's/.*read \([0-9]*\) events.*/\1/p' "$bin/stderr")
z=$(cut -d' ' -f1 "$bin/times.zcat_all" | best)
o=$(cut -d' ' -f1 "$bin/times.ours" | best)
zc=$(cut -d' ' -f2 "$bin/times.zcat_all" | best)
oc=$(cut -d' ' -f2 "$bin/times.ours" | best)
printf 'corpus:      %d files, %d events, %.1f MB compressed (%s)\n' "$nfiles" "$read_events" "$(calc "$bytes/1000000")" "$DIR"
printf 'zcat:        %.2f s wall, %.2f s CPU (best of %d)\n' "$z" "$zc" "$RUNS"
printf 'keywarden:   %.2f s wall, %.2f s CPU (best of %d), %d CPUs, load %s\n' "$o" "$oc" "$RUNS" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf 'events/s:    %.0f\n' "$(calc "$read_events / $o")"
printf 'ratio:       %.2fx zcat (wall)\n' "$(calc "$o / $z")"

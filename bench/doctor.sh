#!/usr/bin/env bash
# doctor.sh: how long "keywarden doctor" takes on a home directory of
# $FILES files (default 100000), against the floor of listing them (find).
#
#   bash bench/doctor.sh                      # FILES=100000 RUNS=3
#   KEYWARDEN_BENCH_DIR=/data/kwbench bash bench/doctor.sh
#
# The home holds source trees (most files, 6 levels deep at most), a few
# node_modules and caches (skipped by the walk), .env and tfvars files, git
# repositories, the shell's files and histories. Keys are random strings,
# never real.
set -euo pipefail
FILES=${FILES:-100000}
RUNS=${RUNS:-3}
DIR=${KEYWARDEN_BENCH_DIR:-/tmp/keywarden-bench}/doctor-home-$FILES
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$(dirname "$DIR")"
BIN=$(dirname "$DIR")/keywarden
(cd "$ROOT" && go build -o "$BIN" ./cmd/keywarden)

if [ ! -e "$DIR/.done" ]; then
  rm -rf "$DIR"
  python3 - "$DIR" "$FILES" <<'PY'
import os, random, string, sys
home, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
b32 = string.ascii_uppercase + "234567"
def key():
    return "AKIA" + "".join(random.choice(b32) for _ in range(16)), "".join(random.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
made = 0
def write(p, text="x\n"):
    global made
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    made += 1
proj = 0
while made < n:
    proj += 1
    base = os.path.join(home, "src", "org%d" % (proj % 20), "proj%d" % proj)
    os.makedirs(os.path.join(base, ".git", "hooks"), exist_ok=True)
    for d in range(40):
        sub = os.path.join(base, *["pkg%d" % ((d + i) % 7) for i in range(d % 5)])
        for f in range(random.randint(5, 30)):
            write(os.path.join(sub, "file%d_%d.go" % (d, f)))
    for f in range(200):
        write(os.path.join(base, "node_modules", "dep%d" % (f % 20), "index%d.js" % f))
    if proj % 10 == 0:
        i, s = key()
        write(os.path.join(base, ".env"), "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n" % (i, s))
    if proj % 15 == 0:
        write(os.path.join(base, "terraform.tfvars"), 'region = "eu-west-1"\n')
i, s = key()
write(os.path.join(home, ".aws", "credentials"), "[work]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (i, s))
write(os.path.join(home, ".bash_history"), "".join("#17000%05d\nls -la %d\n" % (k, k) for k in range(20000)))
print("files:", made)
PY
  touch "$DIR/.done"
fi

best() { # best wall time of $RUNS runs of "$@", in seconds
  local b=999999 t
  for _ in $(seq "$RUNS"); do
    local s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t=$(echo "$(date +%s.%N) - $s" | bc)
    b=$(echo "if ($t < $b) $t else $b" | bc)
  done
  echo "$b"
}
echo "home: $DIR ($(find "$DIR" -type f | wc -l) files)"
export HOME=$DIR KEYWARDEN_BACKEND=file KEYWARDEN_FILE_DIR=$DIR/.kwstore KEYWARDEN_FILE_PASSPHRASE=bench
kw=$(best "$BIN" doctor --format json)
floor=$(best find "$DIR" -type f)
echo "keywarden doctor: ${kw}s   floor (find -type f): ${floor}s   ratio: $(echo "scale=1; $kw / $floor" | bc)"

#!/usr/bin/env bash
# Render keywarden audit's HTML report for the offline test fixture in
# headless Chromium and save a screenshot, to check by eye that the report
# is readable (summary, table, details) and self-contained. Manual: not run
# in CI (Chromium is too slow to install there).
#
#   scripts/audit-html-screenshot.sh [OUT_DIR]
#
# Writes OUT_DIR/audit.html, OUT_DIR/audit.png (the page as opened),
# OUT_DIR/audit-details.png (every key's details expanded) and
# OUT_DIR/audit-print.pdf (the page as printed, to check @media print).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$(mktemp -d)}"
mkdir -p "$out"

browser=""
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null; then browser="$b"; break; fi
done
if [ -z "$browser" ]; then
	echo "chromium is not installed; installing it (apt-get)" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	browser=chromium
fi

go build -o "$out/keywarden" ./cmd/keywarden
fixtures=internal/audit/testdata
# Exit 1 means "findings", which this fixture has by design.
"$out/keywarden" audit --credential-report "$fixtures/credential-report.csv" \
	--authorization-details "$fixtures/authorization-details.json" \
	--format html --output "$out/audit.html" || [ $? -eq 1 ]

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
	--disable-component-update --disable-sync --no-first-run --user-data-dir="$profile")
"$browser" "${flags[@]}" --window-size=1400,1000 --screenshot="$out/audit.png" "file://$(realpath "$out/audit.html")" 2>/dev/null
# The same page with every key's details expanded (report.html#details).
"$browser" "${flags[@]}" --window-size=1400,2400 --screenshot="$out/audit-details.png" "file://$(realpath "$out/audit.html")#details" 2>/dev/null
"$browser" "${flags[@]}" --print-to-pdf="$out/audit-print.pdf" --no-pdf-header-footer "file://$(realpath "$out/audit.html")" 2>/dev/null || true
# The inline script runs: filtering on "carol" (report.html#q=carol) must
# leave her two keys of the fixture's nine.
shown=$("$browser" "${flags[@]}" --dump-dom "file://$(realpath "$out/audit.html")#q=carol" 2>/dev/null | grep -o 'id="shown">[^<]*' | sed 's/.*>//')
echo "filter check (#q=carol): ${shown:-the script did not run}"
[ "$shown" = "2 of 9 keys shown" ] || { echo "unexpected filter result" >&2; exit 1; }
echo "screenshot: $out/audit.png"
echo "details:    $out/audit-details.png"
echo "print:      $out/audit-print.pdf"

#!/usr/bin/env bash
# The SARIF 2.1.0 JSON schema, for the tests that validate our SARIF output.
# It is fetched from the npm registry at CI time, not committed.
set -euo pipefail
dir="$KEYWARDEN_CI_CACHE/sarif"
mkdir -p "$dir"
if [ ! -f "$dir/package/lib/schemas/sarif-2.1.0-rtm.5.json" ]; then
	(cd "$dir" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf microsoft-jest-sarif-1.0.0-beta.0.tgz)
fi
echo "KEYWARDEN_SARIF_SCHEMA=$dir/package/lib/schemas/sarif-2.1.0-rtm.5.json" >>"$KEYWARDEN_CI_CACHE/env"

#!/usr/bin/env bash
# The DuckDB test of detect --athena's SQL (internal/cloudtrail/athena)
# links DuckDB's prebuilt static library through cgo: it needs a C and a
# C++ compiler. Nothing else: the library comes with the Go module.
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "cgo: $(gcc --version | head -n 1); CGO_ENABLED=$(go env CGO_ENABLED)"

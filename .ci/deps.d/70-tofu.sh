#!/usr/bin/env bash
# OpenTofu, for the test that runs `tofu fmt -check` over the Terraform that
# `keywarden baseline generate` writes. `go install` refuses the module (it
# has a replace directive), so it is built from the module's source as the
# module proxy serves it (../shared/DESIGN.md). The binary is cached beside
# the other Go tools, so a machine builds it once (about 3 minutes).
set -euo pipefail
TOFU_MODULE_VERSION=v1.10.6
bin="$(go env GOPATH)/bin/tofu-$TOFU_MODULE_VERSION"
if [ ! -x "$bin" ]; then
	src="$(go mod download -json "github.com/opentofu/opentofu@$TOFU_MODULE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[ -d "$src" ] || { echo "module source for opentofu $TOFU_MODULE_VERSION not found" >&2; exit 1; }
	work="$(mktemp -d)"
	cp -r "$src/." "$work/"
	chmod -R u+w "$work"
	mkdir -p "$(dirname "$bin")"
	(cd "$work" && GOFLAGS=-mod=mod go build -o "$bin.$$.tmp" ./cmd/tofu)
	mv "$bin.$$.tmp" "$bin"
	rm -rf "$work"
fi
"$bin" version | sed -n 1p # sed reads to the end: head would close the pipe early, and pipefail turns the SIGPIPE into a failure
echo "KEYWARDEN_TOFU=$bin" >>"$KEYWARDEN_CI_CACHE/env"
echo "KEYWARDEN_REQUIRE_TOFU=1" >>"$KEYWARDEN_CI_CACHE/env"

#!/usr/bin/env bash
# The vault's tests (internal/vault, internal/cli/vault_*): a real Secret
# Service (gnome-keyring-daemon in a private D-Bus session) and Debian's AWS
# CLI v2 beside the pyenv AWS CLI v1, both used as clients of keywarden's
# credential_process and exec --server.
set -euo pipefail
need=()
command -v dbus-run-session >/dev/null || need+=(dbus)
command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
[ -x /usr/bin/aws ] || need+=(awscli)
if [ ${#need[@]} -gt 0 ]; then
	apt-get -o DPkg::Lock::Timeout=300 update -qq
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# With both installed, the Secret Service test must run, not skip.
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
	echo "KEYWARDEN_REQUIRE_SECRET_SERVICE=1" >>"$KEYWARDEN_CI_CACHE/env"
fi

#!/usr/bin/env bash
# Install the Debian packages named in the given list files, if any are missing.
# As root: apt-get install them. Otherwise: print the exact sudo line and fail with a clear message.
# Idempotent and fast when nothing is missing (one dpkg-query, no network).
set -euo pipefail

wanted=()
for list in "$@"; do
    while IFS= read -r line; do
        pkg=${line%%#*}
        pkg=${pkg//[[:space:]]/}
        [ -n "$pkg" ] && wanted+=("$pkg")
    done < "$list"
done
[ ${#wanted[@]} -gt 0 ] || exit 0

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "voxdesk setup: missing system packages: ${missing[*]}" >&2
    echo "This setup script knows Debian/Ubuntu (apt-get); install their equivalents and run make again." >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "voxdesk setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "then run make again." >&2
    exit 1
fi
echo "voxdesk setup: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; refresh them once when an install cannot find a package.
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

#!/usr/bin/env bash
# Installs the Debian packages the demo and the tests run for real (redis-server,
# chromium, postgresql, mariadb-server) when they are missing. Needs root or password-less sudo; otherwise it says
# exactly what to install and fails, rather than letting tests fail obscurely later.
set -euo pipefail

declare -A binary=([redis]=redis-server [chromium]=chromium [postgres]=initdb [mariadb]=mariadbd)
declare -A package=([redis]=redis-server [chromium]=chromium [postgres]=postgresql [mariadb]=mariadb-server)

# Debian keeps PostgreSQL's server binaries off the PATH, under /usr/lib/postgresql/N/bin,
# and mariadbd in /usr/sbin (where harness/postgres.py and harness/mariadb.py look too).
have() {
  command -v "$1" >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null \
    || [ -x "/usr/sbin/$1" ]
}

missing=()
for part in "$@"; do
  have "${binary[$part]}" || missing+=("${package[$part]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "Missing Debian packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} (Debian packages)..."
"${run[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

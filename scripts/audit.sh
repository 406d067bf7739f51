#!/usr/bin/env bash
# Audits the packages installed in a virtualenv against known advisories (pip-audit), if
# the advisory data can be reached (usage: scripts/audit.sh [VENV], default .venv). pip-audit runs from its own virtualenv, so its own
# dependencies are neither audited nor mixed into the tested set. Where the data source
# (PyPI's JSON API, which carries the OSV advisories) is out of reach, as on machines that
# only reach a package mirror, it says so plainly and exits 0: an audit that cannot run is
# not a failed audit, but it must never look like a passed one. Reachable means: a release
# with a known advisory (requests 2.31.0, CVE-2024-35195) comes back with that advisory;
# a host that answers but knows nothing (seen here: every package "not found on PyPI",
# then "No known vulnerabilities found") is not a data source.
set -euo pipefail
target="${1:-.venv}"
audit_venv="${AUDIT_VENV:-.venv-audit}"
source_url="${AUDIT_SOURCE_URL:-https://pypi.org/pypi/requests/2.31.0/json}"
python="${PYTHON:-python3}"

if ! "$python" - "$source_url" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
        known = json.loads(answer.read(5_000_000)).get("vulnerabilities")
except Exception as exc:  # any failure means: no advisory data here
    print(f"({type(exc).__name__}: {exc})")
    sys.exit(1)
if not known:
    print("(the answer lists no advisory for a release that has one)")
    sys.exit(1)
PY
then
  echo "ADVISORY AUDIT NOT RUN: cannot reach the advisory data source ($source_url)"
  echo "from this machine; the installed set of $target was NOT checked for advisories."
  exit 0
fi

[ -x "$audit_venv/bin/pip-audit" ] || {
  "$python" -m venv "$audit_venv"
  "$audit_venv/bin/pip" install --quiet --disable-pip-version-check 'pip-audit>=2.7,<3'
}
frozen="$(mktemp)"
trap 'rm -f "$frozen"' EXIT
"$target/bin/pip" freeze --exclude-editable --disable-pip-version-check > "$frozen"
echo "advisory audit of $target ($(wc -l < "$frozen") packages) with pip-audit:"
"$audit_venv/bin/pip-audit" --requirement "$frozen" --no-deps --disable-pip --progress-spinner off

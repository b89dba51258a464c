#!/usr/bin/env bash
# Print the path of a working Python interpreter of the first of the given versions found, or fail
# saying what is missing. `find-python.sh 3.10` (Lava's only version); `find-python.sh 3.13 3.12` (newest).
# Looks at $PYTHON<version without dot> (e.g. PYTHON310), pythonX.Y on PATH, pyenv's versions, /usr/bin, /usr/local/bin.
set -u
[ $# -ge 1 ] || { echo "usage: $0 VERSION [VERSION ...]" >&2; exit 2; }
try() { "$1" -c "import sys, venv; assert sys.version_info[:2] == tuple(map(int, '$2'.split('.')))" >/dev/null 2>&1 && { echo "$1"; exit 0; }; }
for v in "$@"; do
  var="PYTHON${v//./}"
  [ -n "${!var:-}" ] && try "${!var}" "$v"
  command -v "python$v" >/dev/null 2>&1 && try "$(command -v "python$v")" "$v"
  for root in "${PYENV_ROOT:-$HOME/.pyenv}" /opt/pyenv /usr/local/pyenv; do
    for p in "$root"/versions/"$v"*/bin/python"$v"; do [ -x "$p" ] && try "$p" "$v"; done
  done
  for p in /usr/bin/python"$v" /usr/local/bin/python"$v" /opt/python*/bin/python"$v"; do [ -x "$p" ] && try "$p" "$v"; done
done
cat >&2 <<MSG
error: no Python $* interpreter found.
  Looked at: \$PYTHON<version> (e.g. PYTHON${1//./}), python$1 on PATH, \$PYENV_ROOT (or ~/.pyenv)/versions, /usr/bin, /usr/local/bin.
  Install one (e.g. \`pyenv install $1\`, or your distribution's python$1 + python$1-venv),
  or point PYTHON${1//./}=/path/to/python$1 at it.
MSG
exit 1

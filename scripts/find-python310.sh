#!/usr/bin/env bash
# Print the path of a working Python 3.10 interpreter (Lava supports 3.10 only), or fail saying what is missing.
# Order: $PYTHON310, python3.10 on PATH, pyenv's 3.10 versions.
set -u
try() { "$1" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo "$1"; exit 0; }; }
[ -n "${PYTHON310:-}" ] && try "$PYTHON310"
command -v python3.10 >/dev/null 2>&1 && try "$(command -v python3.10)"
for root in "${PYENV_ROOT:-$HOME/.pyenv}" /opt/pyenv /usr/local/pyenv; do
  for p in "$root"/versions/3.10*/bin/python3.10; do [ -x "$p" ] && try "$p"; done
done
for p in /usr/bin/python3.10 /usr/local/bin/python3.10 /opt/python*/bin/python3.10; do [ -x "$p" ] && try "$p"; done
cat >&2 <<'MSG'
error: no Python 3.10 interpreter found.
  snn-deploy needs Python 3.10 because lava-nc 0.10.0 / lava-dl 0.6.0 support no other version.
  Looked at: $PYTHON310, python3.10 on PATH, $PYENV_ROOT (or ~/.pyenv)/versions/3.10*, /usr/bin, /usr/local/bin.
  Install one (e.g. `pyenv install 3.10`, or your distribution's python3.10 + python3.10-venv),
  or point PYTHON310=/path/to/python3.10 at it, then run `make setup` again.
MSG
exit 1

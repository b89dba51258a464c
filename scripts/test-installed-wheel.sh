#!/usr/bin/env bash
# CI leg 2: snn-deploy as a user installs it, away from the checkout, on the newest Python.
#
#   1. build the wheel from this checkout (the 3.10 venv's pip, isolated build);
#   2. install it (not editable) with its `fast` extra (numba: the compiled kernels) and pytest into a
#      fresh venv on the newest Python found (3.13, 3.12, else 3.11), which brings the newest torch and
#      numpy 2 that pip resolves, and no Lava;
#   3. from a directory outside the checkout, run a tiny pipeline with the bundled profiles:
#      synth tiny data, train, convert, emulator run, energy;
#   4. run the tests that need no Lava against the installed copy (Lava's tests skip themselves).
#
# Usage: scripts/test-installed-wheel.sh [WORKDIR]   (default: a fresh temporary directory, removed at the end)
# Environment: PY310 (the interpreter that builds the wheel; default .venv/bin/python).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_py=${PY310:-$repo/.venv/bin/python}
work=${1:-}
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work"
newest=$("$repo/scripts/find-python.sh" 3.13 3.12 3.11)
t0=$(date +%s)
stamp() { echo "[installed-wheel +$(( $(date +%s) - t0 ))s] $*"; }

stamp "building the wheel"
rm -rf "$work/dist"
"$build_py" -m pip wheel -q --no-deps "$repo" -w "$work/dist"
wheel=$(ls "$work"/dist/snn_deploy-*.whl)
"$build_py" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
profiles = sorted(n for n in names if n.startswith("snn_deploy/hw_profiles/") and n.endswith(".json"))
stages = sorted({n.split("/")[1] for n in names if n.count("/") >= 2 and n.startswith("snn_deploy/")})
print(f"wheel: {len(names)} files; stages {stages}; profiles {[p.rsplit('/', 1)[1] for p in profiles]}")
if len(profiles) < 6 or not {"train", "convert", "deploy", "energy", "hw_profiles"} <= set(stages):
    sys.exit("error: the wheel lacks stage packages or bundled hardware profiles")
PY

stamp "installing it on $("$newest" --version) in $work/venv"
rm -rf "$work/venv"
"$newest" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "$wheel[fast]" pytest
"$work/venv/bin/python" - <<'PY'
import sys, numpy, torch, numba, importlib.util
print(f"installed-wheel leg: Python {sys.version.split()[0]}, torch {torch.__version__}, numpy {numpy.__version__}, "
      f"numba {numba.__version__}, lava {'present' if importlib.util.find_spec('lava') else 'absent'}")
PY

stamp "tiny pipeline from $work/user (outside the checkout)"
rm -rf "$work/user"; mkdir -p "$work/user"
cd "$work/user"
sd="$work/venv/bin/snn-deploy"
"$sd" data synth-digits --size tiny --channels 64 -o data
"$sd" train --data data -o run --model lif --layers 2 --hidden 16 --epochs 1 --time-steps 20 --quiet
"$sd" convert run/model.pt --target loihi-emu -o run/loihi --data data
"$sd" run run/loihi --data data --no-progress
"$sd" energy run/loihi --profile loihi1 --profile loihi2 --profile cmos45nm-int32 --no-plots
test -s run/loihi/activity.h5 && test -s run/loihi/energy/energy.json

stamp "the tests that need no Lava, against the installed copy"
# From outside the checkout, so that `snn_deploy` can only be the installed package.
SNN_DEPLOY_EXPECT_INSTALLED=1 "$work/venv/bin/python" -m pytest -p no:cacheprovider -q -m "not lava" \
  --rootdir "$repo" -c "$repo/pyproject.toml" "$repo/tests"
stamp "done"

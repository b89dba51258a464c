"""The compiled kernels' disk cache (``convert.kernel_cache``): a second process loads every kernel from it
instead of compiling, and gets the same integers; it is skipped when off, in a directory others may
write to, and it never imports a module file whose text is not the generated one."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

from snn_deploy.convert import kernel_cache   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from networks import seeded_inputs, seeded_network
from snn_deploy.convert import kernels
from snn_deploy.convert.emulator import emulate
from snn_deploy.convert.fixed_neurons import get_neuron_model

net = seeded_network("radlif", bias=8.0)
x = seeded_inputs(net, 70, 15, density=0.04)          # two batch slices; sparse enough to be gathered
compiled = emulate(net, x, engine="compiled")
reference = emulate(net, x, engine="numpy")
same = all(np.array_equal(v, reference.spikes[k]) for k, v in compiled.spikes.items()) and all(
    np.array_equal(v, reference.potentials[k]) for k, v in compiled.potentials.items())
used = [kernels.population_kernel(get_neuron_model("adlif"), False, ((1, 1),)),
        kernels.population_kernel(get_neuron_model("li"), False, ((1, 0),)), kernels._compiled_gather()]
print(json.dumps({"same": bool(same), "hits": [sum(k.stats.cache_hits.values()) for k in used],
                  "misses": [sum(k.stats.cache_misses.values()) for k in used]}))
"""


def run_once(cache) -> dict:
    env = dict(os.environ, **{kernel_cache.CACHE_ENV: str(cache)})
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "tests")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_every_kernel_from_the_cache(tmp_path):
    cache = tmp_path / "kernels"
    first = run_once(cache)
    assert first["same"] and first["hits"] == [0, 0, 0] and min(first["misses"]) >= 1
    modules = sorted(p.name for p in cache.glob("*.py"))
    assert len(modules) == 3 and {m.split("_")[0] for m in modules} == {"adlif", "li", "gather"}, modules
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    second = run_once(cache)
    assert second["same"] and second["misses"] == [0, 0, 0] and min(second["hits"]) >= 1


def test_a_changed_module_file_is_rewritten_before_it_is_imported(tmp_path):
    cache = tmp_path / "kernels"
    run_once(cache)
    target = next(cache.glob("adlif_*.py"))
    generated = target.read_text()
    target.write_text("raise SystemExit('a module file someone else wrote')\n")
    again = run_once(cache)
    assert again["same"] and target.read_text() == generated   # had it been imported, the process had exited


@pytest.mark.parametrize("setting", ["off", "shared"])
def test_no_cache_when_off_or_writable_by_others(tmp_path, setting):
    cache = tmp_path / "kernels"
    if setting == "shared":
        cache.mkdir()
        cache.chmod(0o777)
    result = run_once("off" if setting == "off" else cache)
    assert result["same"] and result["hits"] == [0, 0, 0]
    assert not cache.exists() or not any(cache.iterdir())


def test_the_digest_follows_the_source_the_defining_files_and_the_versions(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    one = kernel_cache.source_digest("def kernel(): pass\n", [str(a)])
    assert kernel_cache.source_digest("def kernel(): pass\n", [str(a)]) == one
    assert kernel_cache.source_digest("def kernel(): return\n", [str(a)]) != one
    a.write_text("x = 2\n")
    assert kernel_cache.source_digest("def kernel(): pass\n", [str(a)]) != one
    assert kernel_cache.source_digest("def kernel(): pass\n", [str(tmp_path / "missing.py")]) is None

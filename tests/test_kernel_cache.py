"""The compiled kernels' disk cache (``convert.kernel_cache``): a second process loads every kernel from it
instead of compiling, and gets the same integers; it is skipped when off, in a directory others may
write to, and it never imports a module file whose text is not the generated one."""
import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

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
    env.pop("NUMBA_CACHE_DIR", None)          # it would move numba's files out of ``cache`` (and turn it off)
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


# In-process tests of the rules, on a small kernel whose update reads a constant from another file.
KERNEL = "def kernel(x):\n    return update(x)\n"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def offset_update(tmp_path: Path, offset: int, name: str):
    """``update(x) = x + OFFSET`` in ``upd_<name>.py``, ``OFFSET`` imported from ``consts_<name>.py``."""
    (tmp_path / f"consts_{name}.py").write_text(f"OFFSET = {offset}\n")
    consts = load(tmp_path / f"consts_{name}.py", f"consts_{name}")
    (tmp_path / f"upd_{name}.py").write_text("def update(x):\n    return x + OFFSET\n")
    upd = importlib.util.module_from_spec(importlib.util.spec_from_file_location(f"upd_{name}",
                                                                                 tmp_path / f"upd_{name}.py"))
    upd.OFFSET = consts.OFFSET                  # as ``from consts import OFFSET`` binds it
    upd.__spec__.loader.exec_module(upd)
    return upd.update


def build(label, update, files):
    import numba

    def bind(module):
        module.update = numba.njit(update)
    module, cached = kernel_cache.kernel_module(label, KERNEL, files, bind, [update])
    return kernel_cache.compile_kernel(module.kernel, cached), cached


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(kernel_cache.CACHE_ENV, str(tmp_path / "kernels"))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    return tmp_path / "kernels"


def test_a_constant_the_update_imports_is_part_of_the_digest(tmp_path, cache):
    # numba freezes globals into the compiled code; the file defining the update is unchanged
    zero = offset_update(tmp_path, 0, "a")
    kernel, cached = build("offset", zero, [str(tmp_path / "upd_a.py")])
    assert cached and kernel(np.int64(2)) == 2
    one = offset_update(tmp_path, 1000, "b")     # upd_b.py has upd_a.py's bytes; OFFSET differs
    kernel, cached = build("offset", one, [str(tmp_path / "upd_b.py")])
    assert cached and kernel(np.int64(2)) == 1002
    assert len(list(cache.glob("offset_*.py"))) == 2


def test_what_the_digest_cannot_follow_is_compiled_in_memory(tmp_path, cache):
    def factory(offset):
        def update(x):
            return x + offset
        return update
    first, second = factory(0), factory(1000)
    here = [__file__]
    for update, expected in ((first, 2), (second, 1002)):       # one label, two closures
        kernel, cached = build("closure", update, here)
        assert not cached and kernel(np.int64(2)) == expected
    assert kernel_cache.function_fingerprint(first, here) is None
    assert kernel_cache.function_fingerprint(helper_calling_numpy, here) is not None
    assert kernel_cache.function_fingerprint(helper_reading_a_dict, here) is None
    assert kernel_cache.function_fingerprint(helper_calling_numpy, []) is not None   # np: a library module
    assert kernel_cache.function_fingerprint(helper_calling_a_helper, here) is not None
    assert kernel_cache.function_fingerprint(helper_calling_a_helper, ["elsewhere.py"]) is None
    assert not list(cache.glob("closure_*.py"))


TABLE = {"a": 1}
PAIR = __import__("collections").namedtuple("Pair", "a b")(3, 5)


def helper_calling_numpy(x):
    return np.int64(x)


def helper_reading_a_dict(x):
    return x + TABLE["a"]


def helper_calling_a_helper(x):
    return helper_calling_numpy(x)


def helper_with_a_default(x, k=3):
    return x + k


def helper_reading_a_namedtuple(x):
    return x + PAIR[0]


def test_default_values_are_in_the_fingerprint_and_tuple_subclasses_are_not_followed():
    import types
    here = [__file__]
    three = kernel_cache.function_fingerprint(helper_with_a_default, here)
    five = types.FunctionType(helper_with_a_default.__code__, globals(), "helper_with_a_default", (5,))
    assert three is not None and kernel_cache.function_fingerprint(five, here) not in (None, three)
    unfollowable = types.FunctionType(helper_with_a_default.__code__, globals(), "helper_with_a_default", ([5],))
    assert kernel_cache.function_fingerprint(unfollowable, here) is None     # a list default: mutable
    assert kernel_cache.function_fingerprint(helper_reading_a_namedtuple, here) is None


def test_every_built_in_model_is_cacheable_and_its_digest_files_are_declared(monkeypatch, cache):
    from snn_deploy.convert import fixed_point, fixed_neurons, kernels

    seen = []
    real = kernel_cache.kernel_module
    monkeypatch.setattr(kernel_cache, "kernel_module",
                        lambda label, source, files, bind, functions=(): seen.append((files, functions))
                        or real(label, source, files, bind, functions))
    for name in list(fixed_neurons.NEURON_MODELS):
        model = fixed_neurons.get_neuron_model(name)
        if model.update is None:
            continue
        kernels.population_kernel(model, True, ((3, 2),) * len(model.ports))   # a shape no other test builds
        files, functions = seen[-1]
        assert {Path(f).name for f in files} >= {"fixed_point.py", "kernels.py"}, files
        assert Path(kernel_cache.defining_file(model.update)).resolve() in {Path(f).resolve() for f in files}
        assert model.update in functions and all(kernel_cache.function_fingerprint(f, files) for f in functions), name
    assert {p.name.split("_recording")[0] for p in cache.glob("*_recording_32*.py")} >= {"adlif", "li"}


def test_numba_cache_dir_symlinks_and_open_parents_turn_the_cache_off(tmp_path, monkeypatch, cache):
    assert kernel_cache.cache_dir() == cache.resolve()
    assert oct((cache / "__pycache__").stat().st_mode & 0o777) == "0o700"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert kernel_cache.cache_dir() is None
    monkeypatch.delenv("NUMBA_CACHE_DIR")

    planted = tmp_path / "planted"
    planted.mkdir()
    (cache / "__pycache__").rmdir()
    (cache / "__pycache__").symlink_to(planted)
    assert kernel_cache.cache_dir() is None

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)                          # anyone may rename what is inside: not sticky
    monkeypatch.setenv(kernel_cache.CACHE_ENV, str(shared / "kernels"))
    assert kernel_cache.cache_dir() is None
    shared.chmod(0o1777)                         # like /tmp
    assert kernel_cache.cache_dir() == (shared / "kernels").resolve()


def test_a_relative_home_or_xdg_cache_home_is_not_used(tmp_path, monkeypatch):
    monkeypatch.delenv(kernel_cache.CACHE_ENV, raising=False)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kernel_cache.cache_dir() == (tmp_path / "home" / ".cache" / "snn-deploy" / "kernels").resolve()
    monkeypatch.setenv("HOME", "nowhere")
    assert kernel_cache.cache_dir() is None
    assert not (tmp_path / "relative").exists() and not (tmp_path / "nowhere").exists()


def test_unloadable_cache_files_are_removed_and_the_kernel_compiled_again(tmp_path, cache, monkeypatch, caplog):
    monkeypatch.setattr(logging.getLogger("snn_deploy"), "propagate", True)   # the CLI's setup turns it off
    update = offset_update(tmp_path, 5, "c")
    files = [str(tmp_path / "upd_c.py")]
    kernel, _ = build("heal", update, files)
    assert kernel(np.int64(2)) == 7 and sum(kernel.stats.cache_misses.values()) == 1
    module_file = next(cache.glob("heal_*.py"))
    for suffix, damage in ((".nbi", lambda b: b[:len(b) // 2]), (".nbc", lambda b: b"\x80\x04junk")):
        target = next((cache / "__pycache__").glob(f"{module_file.stem}.*{suffix}"))
        target.write_bytes(damage(target.read_bytes()))
        with caplog.at_level(logging.WARNING, logger="snn_deploy"):
            kernel, _ = build("heal", update, files)    # a new dispatcher: it loads from the files
            assert kernel(np.int64(2)) == 7
        assert "could not be loaded" in caplog.text
        caplog.clear()
        kernel, _ = build("heal", update, files)        # the files were written anew: loaded, not compiled
        assert kernel(np.int64(2)) == 7 and sum(kernel.stats.cache_hits.values()) == 1, suffix


def test_a_module_file_that_is_not_utf8_is_rewritten(tmp_path, cache):
    update = offset_update(tmp_path, 1, "d")
    build("bytes", update, [str(tmp_path / "upd_d.py")])
    module_file = next(cache.glob("bytes_*.py"))
    generated = module_file.read_bytes()
    module_file.write_bytes(generated + b"\xff\xfe")
    kernel, cached = build("bytes", update, [str(tmp_path / "upd_d.py")])
    assert cached and kernel(np.int64(1)) == 2 and module_file.read_bytes() == generated


def test_a_compile_error_is_numbas_own_and_keeps_the_cache_files(tmp_path, cache, monkeypatch, caplog):
    import numba

    monkeypatch.setattr(logging.getLogger("snn_deploy"), "propagate", True)
    update = offset_update(tmp_path, 1, "e")
    kernel, _ = build("typing", update, [str(tmp_path / "upd_e.py")])
    assert kernel(np.int64(1)) == 2
    files = sorted((cache / "__pycache__").glob("typing_*.nb[ic]"))
    assert len(files) == 2
    with caplog.at_level(logging.WARNING, logger="snn_deploy"), pytest.raises(numba.core.errors.TypingError):
        kernel("not a number")
    assert sorted((cache / "__pycache__").glob("typing_*.nb[ic]")) == files and "could not" not in caplog.text


def test_the_module_file_is_compiled_from_its_checked_bytes_not_a_bytecode_cache(tmp_path, cache):
    import py_compile
    import sys as _sys

    update = offset_update(tmp_path, 1, "f")
    build("pyc", update, [str(tmp_path / "upd_f.py")])
    module_file = next(cache.glob("pyc_*.py"))
    pyc = Path(importlib.util.cache_from_source(str(module_file)))
    py_compile.compile(str(module_file), cfile=str(pyc))
    pyc.write_bytes(pyc.read_bytes()[:24])       # a valid header, a truncated body
    _sys.modules.pop(f"{kernel_cache.MODULE_PREFIX}.{module_file.stem}")
    kernel, cached = build("pyc", update, [str(tmp_path / "upd_f.py")])
    assert cached and kernel(np.int64(1)) == 2

"""``snn-deploy run``: outputs on Lava and the emulator, verification, bad input with one clear error line,
and no stray processes after a failing, interrupted or hung Lava run."""
import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("lava.magma.core.process.process")

from snn_deploy import catalogue  # noqa: E402
from snn_deploy.activity import load_activity  # noqa: E402
from snn_deploy.cli import main  # noqa: E402
from snn_deploy.convert import fixed_neurons  # noqa: E402
from snn_deploy.convert.emulator import emulate, encode_inputs  # noqa: E402
from networks import seeded_inputs, seeded_network  # noqa: E402
from snn_deploy.deploy.runner import LavaRunError, run_lava  # noqa: E402
from snn_deploy.ir import load_network, save_network  # noqa: E402
from snn_deploy.train.data import open_dataset  # noqa: E402

pytestmark = pytest.mark.lava

CHANNELS, CLASSES, STEPS = 40, 4, 20     # the conftest SHD set: 40 channels, 4 classes


@pytest.fixture(scope="module")
def network():
    return seeded_network("radlif", inputs=CHANNELS, classes=CLASSES, hidden=16, time_steps=STEPS)


@pytest.fixture
def out_dir(tmp_path, network):
    save_network(network, tmp_path / "out" / "network.h5")
    return tmp_path / "out"


def our_processes() -> set[int]:
    """Processes running our own command line (forked Lava workers keep it), except this one."""
    me = Path("/proc/self/cmdline").read_bytes()
    pids = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid():
            try:
                if (p / "cmdline").read_bytes() == me:
                    pids.add(int(p.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def no_stray_processes():
    before = our_processes()
    yield
    deadline = time.monotonic() + 5
    while our_processes() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert our_processes() - before == set(), "Lava processes outlived the run"


def run_cli(*args):
    return main(["run", *map(str, args), "--no-progress"])


def test_run_on_lava_with_verify_writes_activity_and_run_json(out_dir, shd_dir, network, capsys, no_stray_processes):
    assert run_cli(out_dir, "--data", shd_dir, "--limit", 5, "--verify", 5, "--batch", 3) == 0
    text = capsys.readouterr().out
    assert "ran 5 samples on lava" in text and "identical" in text and "time per step" in text
    act = load_activity(out_dir / "activity.h5")
    act.check_matches(network)
    record = json.loads((out_dir / "run.json").read_text())
    assert act.backend == record["backend"] == "lava"
    assert record["verification"]["identical"] and record["verification"]["against"] == "emulator"
    assert record["verification"]["spikes_compared"] > 0
    # the recorded activity IS the emulator's on the same samples (two Lava calls of 3 + 2 samples)
    ds = open_dataset(shd_dir, "test", time_steps=STEPS)
    x = ds.frames_batch(np.arange(5))
    emu = emulate(network, encode_inputs(network, x))
    for name, s in emu.spikes.items():
        assert s.sum() > 0
        np.testing.assert_array_equal(act.spikes[name], s, err_msg=name)
    np.testing.assert_array_equal(act.potentials["readout"], emu.potentials["readout"])
    np.testing.assert_array_equal(act.predictions, emu.predictions)
    np.testing.assert_array_equal(act.labels, ds.labels[:5])
    assert record["accuracy"] == pytest.approx(float((emu.predictions == ds.labels[:5]).mean()))
    assert act.inputs.shape == (5, emu.num_steps, CHANNELS) and act.input_steps == STEPS
    np.testing.assert_array_equal(act.inputs[:, :STEPS], x)
    assert set(record["firing_rates"]) == {"h1", "h2"} and record["seconds_per_step"] > 0


def test_loihi_emu_target_runs_the_emulator_by_default(tmp_path, network, shd_dir):
    net = dataclasses.replace(network, meta=dict(network.meta, target="loihi-emu"))
    save_network(net, tmp_path / "emu" / "network.h5")
    assert run_cli(tmp_path / "emu", "--data", shd_dir, "--limit", 7) == 0
    assert load_activity(tmp_path / "emu" / "activity.h5").backend == "emulator"


def _edit_network(path: Path, how: str) -> None:
    with h5py.File(path, "r+") as f:
        if how == "version":
            f.attrs["version"] = 99
        elif how == "shape":
            for g in f["nodes"].values():
                if json.loads(g.attrs.get("name", '""')) == "fc1":
                    del g["weight"]
                    g["weight"] = np.zeros((16, 39), np.int64)
        elif how == "param":
            for g in f["nodes"].values():
                if json.loads(g.attrs.get("name", '""')) == "h1":
                    del g["params"]["vth"]


@pytest.mark.parametrize("case, match", [
    ("loihi2", "needs Intel's lava-loihi extension"),
    ("channels", "the data has 30 input channels, the network 40"),
    ("version", "network format version 99 is not supported"),
    ("shape", "inconsistent network.*fc1"),
    ("param", "neurons 'h1'.*missing \\['vth'\\]"),
    ("missing", "no such network file"),
    ("float", "float IR"),
])
def test_bad_input_gives_one_clear_error_and_writes_nothing(case, match, out_dir, shd_dir, shd_factory, capsys,
                                                            no_stray_processes):
    data, extra = shd_dir, []
    if case == "loihi2":
        extra = ["--target", "loihi2"]
    elif case == "channels":
        data = shd_factory(num_channels=30)
    elif case in ("version", "shape", "param"):
        _edit_network(out_dir / "network.h5", case)
    elif case == "missing":
        (out_dir / "network.h5").unlink()
    elif case == "float":
        net = load_network(out_dir / "network.h5")
        for pop in net.neuron_nodes():    # a float network carries its models' float parameters (typed IR)
            pop.params = {k: np.full(pop.size, 0.9) for k in catalogue.get_model_entry(pop.model).param_names}
        save_network(dataclasses.replace(net, precision=None), out_dir / "network.h5")
    assert run_cli(out_dir, "--data", data, "--limit", 2, *extra) == 1  # a bad file, not a bad option
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert __import__("re").search(match, err[0]), err[0]
    assert not (out_dir / "activity.h5").exists() and not (out_dir / "run.json").exists()


def _failing_li(monkeypatch, step):
    li = fixed_neurons.NEURON_MODELS["li"]
    monkeypatch.setitem(fixed_neurons.NEURON_MODELS, "li", dataclasses.replace(li, step=step))


def test_a_process_failing_inside_lava_is_reported_and_leaves_no_process(monkeypatch, network, no_stray_processes):
    calls = []

    def boom(a_in, state, p):
        calls.append(1)
        raise ValueError("boom in the readout")

    _failing_li(monkeypatch, boom)   # the forked Lava processes inherit the patched model
    with pytest.raises(LavaRunError, match="process 'readout' at time step 1: ValueError: boom in the readout") as err:
        run_lava(network, seeded_inputs(network, 2, 5))
    assert "\n" not in str(err.value) and "Traceback" in err.value.details
    assert calls == []               # it failed in Lava's processes, not here


def test_a_hung_lava_run_is_killed_after_the_stall_timeout(monkeypatch, network, no_stray_processes):
    _failing_li(monkeypatch, lambda a, s, p: time.sleep(600))
    t0 = time.monotonic()
    with pytest.raises(LavaRunError, match="no progress for 3 s"):
        run_lava(network, seeded_inputs(network, 2, 5), stall_timeout=3)
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_lava_after_the_current_chunk(sig, network, no_stray_processes):
    sent = []

    def progress(n):
        if not sent:
            sent.append(n)
            os.kill(os.getpid(), sig)

    handler = signal.getsignal(sig)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_lava(network, seeded_inputs(network, 40, STEPS), progress=progress, chunk_steps=50)
    assert time.monotonic() - t0 < 30
    assert len(sent) == 1 and signal.getsignal(sig) is handler     # our deferring handler is gone again


def test_interrupted_cli_run_exits_130_and_writes_nothing(out_dir, shd_dir, monkeypatch, capsys, no_stray_processes):
    from snn_deploy.deploy import runner

    real = runner.run_lava

    def interrupted(net, inputs, progress=None, **kw):
        def bar(n):
            os.kill(os.getpid(), signal.SIGINT)
        return real(net, inputs, progress=bar, chunk_steps=30, **kw)

    monkeypatch.setattr("snn_deploy.deploy.backends.run_lava", interrupted)
    assert run_cli(out_dir, "--data", shd_dir, "--limit", 6) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (out_dir / "activity.h5").exists()


def test_verify_fails_loudly_on_the_first_differing_spike(out_dir, shd_dir, monkeypatch, capsys, no_stray_processes):
    from snn_deploy.deploy import simulate

    real = simulate.run_backend

    def lava_with_one_flipped_spike(name, net, inputs, **kw):
        run = real(name, net, inputs, **kw)
        if name == "lava":
            run.spikes["h2"][1, 7, 3] ^= 1
            run.spikes["h1"][1, 9, 0] ^= 1          # later step: not the first difference
        return run

    monkeypatch.setattr(simulate, "run_backend", lava_with_one_flipped_spike)
    assert run_cli(out_dir, "--data", shd_dir, "--limit", 3, "--backend", "emulator", "--verify", 2) == 1
    err = capsys.readouterr().err
    assert "verification FAILED on 2 samples: first differing spike: layer 'h2', neuron 3, step 7, sample 1" in err
    record = json.loads((out_dir / "run.json").read_text())
    assert record["verification"]["identical"] is False and record["backend"] == "emulator"

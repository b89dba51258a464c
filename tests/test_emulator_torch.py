"""The emulator's torch engine (``convert.emulator_torch``) on CPU torch against the numpy engine: every
model's time loop from random states across the whole 24-bit range (every saturating field saturates,
every wrapping field wraps), whole seeded networks of every model (spikes, potentials, every state,
overflow counts, scores), networks driven into saturation and wrap, a recurrent readout whose
products need float64; and ``snn-deploy run --device`` (one error line without CUDA or with Lava).
The numpy engine is the one Lava's process models run (tests/test_deploy_lava.py)."""
import dataclasses

import numpy as np
import pytest
import torch

from networks import assert_same_run, seeded_inputs, seeded_network
from snn_deploy.cli import main
from snn_deploy.convert import emulator_torch, fixed_point as fp
from snn_deploy.convert.emulator import emulate
from snn_deploy.convert import fixed_neurons
from snn_deploy.convert.fixed_neurons import get_neuron_model
from snn_deploy.errors import SnnDeployError, UsageError
from snn_deploy.ir import save_network
from shd_files import DEFAULT_CHANNELS, DEFAULT_CLASSES
from test_emulator import recurrent_readout_network
from test_kernels import CASES, numpy_reference, random_case

CPU = torch.device("cpu")
CHANNELS, CLASSES, STEPS = DEFAULT_CHANNELS, DEFAULT_CLASSES, 20     # the conftest SHD set
#: the torch engine on every device this machine has (CUDA where a GPU is lent)
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("name,reset", CASES)
def test_torch_time_loop_equals_numpy_step_with_saturation_and_wrap(name, reset):
    model = get_neuron_model(name)
    rng = np.random.default_rng(sum(map(ord, name + reset)))
    S, reset_after = 12, 5
    params, state, ff, exps = random_case(model, reset, rng, S=S)
    want_y, want_states, want_counts = numpy_reference(model, params, state, ff, exps, S, reset_after)

    shift = emulator_torch.torch_primitives(CPU).weight_shift
    a_ff = [sum(shift(torch.from_numpy(f[k].astype(np.int64)), int(e[k])) for k in range(f.shape[0]))
            for f, e in zip(ff, exps)]
    y, recorded, counts = emulator_torch.time_loop(model, params, a_ff, [[] for _ in model.ports], True,
                                                   reset_after, initial=state)

    np.testing.assert_array_equal(y.numpy(), want_y)
    for n in model.state_names:
        np.testing.assert_array_equal(recorded[n].numpy(), want_states[n], err_msg=f"{name} state {n}")
    assert list(counts.values()) == list(want_counts)
    # guards: every saturating field saturated and every wrapping field wrapped, somewhere; spikes happened
    assert np.all(want_counts > 0), f"{name}: counts {want_counts} for {model.saturating + model.wrapping}"
    if model.spiking:
        assert 0 < want_y.sum() < want_y.size


NETWORKS = [("radlif", {}), ("adlif", {}), ("lif", {}), ("rlif", {}), ("mthr_lif", {}), ("spikgru", {}),
            ("cuba_lif", {"reset": "zero"}), ("cuba_lif", {"reset": "subtract"}), ("adlif", {"encoding": "graded"})]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case,kw", NETWORKS, ids=[f"{c}-{'-'.join(map(str, k.values()))}" for c, k in NETWORKS])
def test_torch_engine_equals_numpy_engine_on_seeded_networks(case, kw, device):
    """Every model with a recurrent and a feed-forward layer and an li readout; biased, so the pipeline reset acts."""
    net = seeded_network(case, bias=8.0, **kw)
    if kw.get("encoding") == "graded":
        x = np.random.default_rng(3).normal(0.0, 1.0, (5, 15, net.inputs()[0].size))
    else:
        x = seeded_inputs(net, 5, 15, max_count=2 if case == "spikgru" else 1)
    a = emulate(net, x, record_state=True, engine="torch", device=device)
    b = emulate(net, x, record_state=True, engine="numpy")
    assert sum(int(s.sum()) for s in b.spikes.values()) > 20, "guard: the network must spike"
    assert b.potentials, "guard: an li readout"
    assert_same_run(a, b)
    lean = emulate(net, x, record=False, device=device)      # a device alone picks the torch engine
    assert set(lean.spikes) | set(lean.potentials) == {net.output().name}
    np.testing.assert_array_equal(lean.predictions, b.predictions)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case,kw", [("cuba_lif", {"reset": "zero"}), ("spikgru", {}), ("adlif", {})])
def test_torch_engine_equals_numpy_engine_when_driven_into_saturation_and_wrap(case, kw, device):
    net = seeded_network(case, bias=8.0, **kw)
    for d in net.dense_nodes():                      # the largest shift: inputs far beyond 24 bits
        if not net.is_recurrent(d.name):
            d.weight_exp = fp.WEIGHT_EXP_MAX
    x = seeded_inputs(net, 4, 12, max_count=3)
    a = emulate(net, x, record_state=True, engine="torch", device=device)
    b = emulate(net, x, record_state=True, engine="numpy")
    for pop, counts in b.overflow.items():          # guards: every population overflowed
        assert sum(counts.values()) > 0, f"{pop}: {counts}"
    wrapping = [c for counts in b.overflow.values() for k, c in counts.items() if k.startswith("wrapped")]
    assert all(c > 0 for c in wrapping) and (case == "adlif" or wrapping)
    assert sum(int(s.sum()) for s in b.spikes.values()) > 20
    assert_same_run(a, b)


def test_recurrent_readout_on_potentials_near_2_23_uses_exact_float64():
    # li with a recurrent dense on its own potential (up to 2^23 - 1): float32 products would drop bits
    net, _, _, x = recurrent_readout_network()
    a = emulate(net, x, pipeline_reset=False, engine="torch", record_state=True)
    b = emulate(net, x, pipeline_reset=False, engine="numpy", record_state=True)
    assert np.abs(b.potentials["ro"]).max() == fp.STATE_MAX and np.unique(b.potentials["ro"]).size > 1000
    assert_same_run(a, b)


def test_device_choice_is_checked(monkeypatch):
    net = seeded_network("lif", layers=2, hidden=4)
    x = seeded_inputs(net, 1, 3)
    lif = get_neuron_model("lif")
    records_only = dataclasses.replace(lif, step=lambda *args: lif.step(*args))   # an extension's step, no *_update
    monkeypatch.setitem(fixed_neurons.NEURON_MODELS, "lif", records_only)
    with pytest.raises(SnnDeployError, match="'lif': its integer step is written on records only"):
        emulate(net, x, engine="torch")
    np.testing.assert_array_equal(emulate(net, x, engine="numpy").spikes["h1"], emulate(net, x).spikes["h1"])
    monkeypatch.undo()
    with pytest.raises(SnnDeployError, match="only the emulator engine 'torch' runs on a device, not 'numpy'"):
        emulate(net, x, engine="numpy", device="cpu")
    with pytest.raises(UsageError, match="device tpu: not a torch device"):
        emulator_torch.check_device("tpu")
    with pytest.raises(UsageError, match="device mps: the emulator runs on cpu or cuda"):
        emulator_torch.check_device("mps")
    if not torch.cuda.is_available():
        with pytest.raises(emulator_torch.DeviceUnavailable, match="device cuda: CUDA is not available"):
            emulate(net, x, device="cuda")


@pytest.fixture
def out_dir(tmp_path):
    net = seeded_network("radlif", inputs=CHANNELS, classes=CLASSES, hidden=16, time_steps=STEPS)
    save_network(net, tmp_path / "out" / "network.h5")
    return tmp_path / "out"


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present: --device cuda runs")
def test_run_device_cuda_without_cuda_is_one_error_line(out_dir, shd_dir, capsys):
    assert main(["run", str(out_dir), "--data", str(shd_dir), "--backend", "emulator", "--device", "cuda",
                 "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --device cuda: CUDA is not available"), line
    assert not (out_dir / "activity.h5").exists()


def test_run_device_with_lava_is_a_usage_error_and_device_cpu_runs_the_same_integers(out_dir, shd_dir, tmp_path, capsys):
    assert main(["run", str(out_dir), "--data", str(shd_dir), "--backend", "lava", "--device", "cpu",
                 "--no-progress"]) == 2
    assert one_error_line(capsys).startswith("error: --device cpu: the device runs the emulator (--backend emulator)")
    from snn_deploy.activity import load_activity

    common = ["--data", str(shd_dir), "--limit", "6", "--batch", "4", "--no-progress"]
    assert main(["run", str(out_dir), "--device", "cpu", *common]) == 0     # a device alone: the emulator
    assert main(["run", str(out_dir), "--backend", "emulator", "--output", str(tmp_path / "np"), *common]) == 0
    on_torch, on_numpy = load_activity(out_dir / "activity.h5"), load_activity(tmp_path / "np" / "activity.h5")
    assert on_torch.backend == on_numpy.backend == "emulator"
    assert sum(int(s.sum()) for s in on_numpy.spikes.values()) > 0
    for name, s in on_numpy.spikes.items():
        np.testing.assert_array_equal(on_torch.spikes[name], s, err_msg=name)
    for name, u in on_numpy.potentials.items():
        np.testing.assert_array_equal(on_torch.potentials[name], u, err_msg=name)
    np.testing.assert_array_equal(on_torch.predictions, on_numpy.predictions)

"""Hostile data, activity and network files, and sizes too big to allocate: one clear line, nothing written.

Every hostile file is made here with h5py (or soundfile) from a copy of the pipeline's files. To keep
the suite fast, the refusals run in ONE child process that calls ``snn_deploy.cli.main`` once per
command line (:func:`run_many`: torch is imported once, not once per case); each result is then
checked like a separate command: exit status, exactly one ``error:`` line naming the file and the
field, no traceback, no output written.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from clitools import assert_one_line_error, digest_tree, run_many

# ---- hostile files, made from copies ----------------------------------------------------------------

def spike_file(path: Path, times, units, labels, *, num_channels=40, times_dtype=np.float32) -> Path:
    with h5py.File(path, "w") as f:
        spikes = f.create_group("spikes")
        if num_channels is not None:
            spikes.attrs["num_channels"] = num_channels
        t = spikes.create_dataset("times", (len(labels),), dtype=h5py.vlen_dtype(np.dtype(times_dtype)))
        u = spikes.create_dataset("units", (len(labels),), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
        for i in range(len(labels)):
            t[i] = np.asarray(times[i], dtype=times_dtype)
            u[i] = np.asarray(units[i], dtype=np.uint16)
        f["labels"] = np.asarray(labels, dtype=np.uint16)
        f.create_dataset("extra/keys", data=["a", "b"], dtype=h5py.string_dtype())
    return path


def hostile_spike_files(root: Path) -> dict[str, Path]:
    """name -> a one-file data directory holding ``test.h5`` with one defect."""
    good_t, good_u = [np.array([0.1, 0.5]), np.array([0.2])], [np.array([1, 2]), np.array([3])]
    made = {}

    def folder(name):
        d = root / name
        d.mkdir(parents=True)
        made[name] = d
        return d / "test.h5"

    with h5py.File(folder("times_as_strings"), "w") as f:
        f.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype(h5py.string_dtype()))
        f["spikes/units"] = np.zeros(2)  # never reached: times are checked first
        f["labels"] = np.zeros(2, np.uint16)
    spike_file(folder("channels_abc"), good_t, good_u, [0, 1], num_channels="abc")
    spike_file(folder("channels_1e9"), good_t, good_u, [0, 1], num_channels=np.int64(10 ** 9))
    spike_file(folder("nan_time"), [np.array([0.1, np.nan]), np.array([0.2])], good_u, [0, 1])
    spike_file(folder("negative_times"), [np.array([-0.1, 0.5]), np.array([-0.2])], good_u, [0, 1])
    with h5py.File(folder("claims_1e8_samples"), "w") as f:  # a few KB claiming 10^8 samples, never written
        vlen = h5py.vlen_dtype(np.dtype(np.float32))
        f.create_dataset("spikes/times", (10 ** 8,), dtype=vlen)
        f.create_dataset("spikes/units", (10 ** 8,), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
        f.create_dataset("labels", (10 ** 8,), dtype=np.uint16, chunks=(10 ** 6,))
    return made


def tamper_activity(src: Path, dst: Path, edit) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def replace(f: h5py.File, name: str, data) -> None:
    del f[name]
    f[name] = data


def nan_first(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float32)
    values[0, 0, 0] = np.nan
    return values


def hostile_activities(act: Path, root: Path) -> dict[str, tuple[Path, str]]:
    """name -> (tampered copy of activity.h5, the field its error must name)."""
    with h5py.File(act, "r") as f:
        pop = sorted(f["spikes"])[0]
        shape = f["input"].shape
    cases = {
        "version_x": (lambda f: f.attrs.__setitem__("version", "x"), "version"),
        "spike_200": (lambda f: f[f"spikes/{pop}"].__setitem__((0, 0, 0), 200), f"spikes/{pop}"),
        "input_steps_negative": (lambda f: f.attrs.__setitem__("input_steps", -5), "input_steps"),
        "input_steps_1e12": (lambda f: f.attrs.__setitem__("input_steps", 10 ** 12), "input_steps"),
        "labels_short": (lambda f: replace(f, "labels", f["labels"][:-1]), "labels"),
        "steps_disagree": (lambda f: f.attrs.__setitem__("num_steps", shape[1] + 3), "num_steps"),
        "nan_potential": (lambda f: [replace(f, f"potentials/{k}", nan_first(f[f"potentials/{k}"][()]))
                                     for k in list(f["potentials"])], "potentials/"),
        # a few KB claiming 10^7 samples of input (40 GB): the chunks were never written
        "claims_huge_input": (lambda f: (f.__delitem__("input"),
                                         f.create_dataset("input", (10 ** 7, shape[1], shape[2]), dtype=np.float32,
                                                          chunks=(64, shape[1], shape[2]), compression="gzip")),
                              "input"),
    }
    return {name: (tamper_activity(act, root / f"{name}.h5", edit), field) for name, (edit, field) in cases.items()}


def hostile_networks(net: Path, root: Path) -> dict[str, tuple[Path, str]]:
    """name -> (a run directory with a tampered copy of network.h5, the field its error must name)."""
    cases = {
        "version_abc": (lambda f: f.attrs.__setitem__("version", "abc"), "version"),
        "meta_not_text": (lambda f: f.attrs.__setitem__("meta", np.arange(3)), "meta"),
        "size_abc": (lambda f: f["nodes"][sorted(f["nodes"])[0]].attrs.__setitem__("size", json.dumps("abc")),
                     "size"),
    }
    made = {}
    for name, (edit, field) in cases.items():
        (root / name).mkdir()
        made[name] = (tamper_activity(net, root / name / "network.h5", edit), field)
    return made


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, subtype: str = "FLOAT") -> Path:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, rate, subtype=subtype)
    return path


# ---- the tests ----------------------------------------------------------------------------------------

def test_hostile_data_activity_network_files_are_refused_in_one_line(pipeline, tmp_path):
    """Each defect: exit 1 (bad file) or 2 (bad option), one line naming file and field, nothing written."""
    spikes = hostile_spike_files(tmp_path / "spikes")
    (tmp_path / "act").mkdir()
    (tmp_path / "net").mkdir()
    activities = hostile_activities(pipeline.out / "activity.h5", tmp_path / "act")
    networks = hostile_networks(pipeline.out / "network.h5", tmp_path / "net")
    nan_wav = write_wav(tmp_path / "wav_nan" / "yes" / "0.wav", np.array([0.1, np.nan, 0.2] * 2000, np.float32))
    write_wav(tmp_path / "wav_nan" / "no" / "0.wav", np.zeros(6000, np.float32))
    long_wav = write_wav(tmp_path / "wav_long" / "talk" / "0.wav", np.zeros(600 * 16000, np.int16), subtype="PCM_16")
    out_before = digest_tree(pipeline.out)

    data_cases = [(name, ("data", "info", d / "test.h5")) for name, d in spikes.items() if name != "negative_times"]
    data_cases.append(("negative_times", ("run", pipeline.out, "--data", spikes["negative_times"], "--no-progress",
                                          "--output", tmp_path / "neg_out")))
    act_cases = [(name, ("energy", pipeline.out, "--activity", path, "--no-plots", "-o", tmp_path / f"rep_{name}"))
                 for name, (path, _) in activities.items()]
    net_cases = [(name, ("energy", path.parent, "--activity", pipeline.out / "activity.h5", "--no-plots",
                         "-o", tmp_path / f"rep_{name}")) for name, (path, _) in networks.items()]
    audio_cases = [
        ("nan_wav", ("data", "encode", tmp_path / "wav_nan", "-o", tmp_path / "nan.h5", "--workers", "1")),
        # 10 minutes at 60000 channels: terabytes on any machine; refused from the header, before decoding
        ("long_wav", ("data", "encode", tmp_path / "wav_long", "-o", tmp_path / "long.h5", "--channels", "60000",
                      "--workers", "1")),
    ]
    option_cases = [
        ("time_steps_1e10", ("run", pipeline.out, "--data", pipeline.data, "--time-steps", 10 ** 10, "--no-progress",
                             "--output", tmp_path / "ts_out")),
        ("time_steps_0", ("run", pipeline.out, "--data", pipeline.data, "--time-steps", 0, "--no-progress",
                          "--output", tmp_path / "ts0_out")),
    ]
    good = spike_file(tmp_path / "good.h5", [np.array([0.1, 0.5]), np.array([0.2])], [np.array([1, 2]), np.array([3])],
                      [0, 1])
    info_cases = [("info_negative", ("data", "info", spikes["negative_times"] / "test.h5", "--json")),
                  ("info_good", ("data", "info", good))]
    cases = data_cases + act_cases + net_cases + audio_cases + option_cases + info_cases
    results = dict(zip([name for name, _ in cases], run_many(*[argv for _, argv in cases])))

    # data info reads a file with negative spike times, counts them and warns; a valid file still reads
    info_negative, info_good = results.pop("info_negative"), results.pop("info_good")
    assert info_negative.returncode == 0, info_negative.stderr
    summary = json.loads(info_negative.stdout)
    assert summary["spikes"]["negative_times"] == 2 and summary["spikes"]["total"] == 3
    assert info_good.returncode == 0 and "3 total" in info_good.stdout and "WARNING" not in info_good.stdout

    expect = {
        "times_as_strings": (1, "spikes/times", "floating-point"),
        "channels_abc": (1, "num_channels", "'abc'"),
        "channels_1e9": (1, "num_channels", "1000000000"),
        "nan_time": (1, "spikes/times", "NaN"),
        "claims_1e8_samples": (1, "spikes/times", "claims shape (100000000,)"),
        "negative_times": (1, "spikes/times", "2 negative spike times"),
        "nan_wav": (1, str(nan_wav), "finite"),
        "long_wav": (1, str(long_wav), "600 s", "needs ~", "GiB available"),
        "time_steps_1e10": (2, "--time-steps 10000000000", "needs ~", "GiB available"),
        "time_steps_0": (2, "--time-steps", ">= 1"),
    }
    for name, d in spikes.items():
        expect[name] = (expect[name][0], str(d / "test.h5"), *expect[name][1:])
    for name, (path, field) in {**activities, **networks}.items():
        expect[name] = (1, str(path), field)
    for name, (code, *needles) in expect.items():
        assert_one_line_error(results[name], *needles, code=code)

    assert digest_tree(pipeline.out) == out_before
    written = [p.name for p in tmp_path.iterdir() if p.name.startswith(("rep_", "neg_out", "ts_out", "ts0_out"))]
    assert not written and not (tmp_path / "nan.h5").exists() and not (tmp_path / "long.h5").exists()
    for d in spikes.values():
        assert [p.name for p in d.iterdir()] == ["test.h5"]


def test_memory_check_names_the_need_and_what_is_available():
    from snn_deploy.errors import UsageError
    from snn_deploy.memory import available_bytes, check_fits

    free = available_bytes()
    assert free is None or free > 0
    check_fits(1024, "small")
    if free is not None:
        with pytest.raises(UsageError, match=r"^--x 9: needs ~[\d,.]+ GiB of memory, [\d,.]+ GiB available$"):
            check_fits(free * 4, "--x 9", UsageError)

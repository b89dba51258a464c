"""SHD/SSC layout: binning worked by hand, label mapping, splits, and bad files."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.train.data import (
    bin_spikes, collate, open_dataset, read_spike_file, write_spike_file,
)


def _write(path, samples, labels, class_names=("zero", "one", "two"), **kw):
    times = [np.asarray(t, dtype=float) for t, _ in samples]
    units = [np.asarray(u) for _, u in samples]
    return write_spike_file(path, times, units, labels, class_names=list(class_names), **kw)


def test_bin_spikes_by_hand():
    # 10 bins of 0.1 s over 1.0 s. Spikes: two in bin 0 ch 1, one in bin 1 ch 2, one in bin 9 ch 0;
    # t = 1.0 (== duration) and t = 1.2 are dropped, as is t = -0.01.
    t = np.array([0.0, 0.05, 0.15, 0.99, 1.0, 1.2, -0.01])
    u = np.array([1, 1, 2, 0, 0, 3, 3])
    x = bin_spikes(t, u, time_steps=10, duration=1.0, num_channels=4)
    expected = np.zeros((10, 4), np.float32)
    expected[0, 1] = 2
    expected[1, 2] = 1
    expected[9, 0] = 1
    np.testing.assert_array_equal(x, expected)
    xb = bin_spikes(t, u, time_steps=10, duration=1.0, num_channels=4, binary=True)
    np.testing.assert_array_equal(xb, np.minimum(expected, 1))
    assert x.dtype == np.float32


def test_default_binning_is_100_bins_of_14ms(tmp_path):
    # 1.4 s / 100 = 14 ms bins: 0.013 -> bin 0, 0.015 -> bin 1, 1.39 -> bin 99, 1.45 dropped.
    _write(tmp_path / "train.h5", [([0.013, 0.015, 1.39, 1.45], [0, 5, 699, 3])], [2])
    ds = open_dataset(tmp_path, "train")
    x, y = ds[0]
    assert x.shape == (100, 700) and x.dtype == torch.float32
    assert y == 2 and isinstance(y, int)
    assert x[0, 0] == 1 and x[1, 5] == 1 and x[99, 699] == 1
    assert x.sum() == 3
    assert ds.input_kind == "spikes" and ds.num_channels == 700 and ds.time_steps == 100


def test_labels_class_names_and_batches(tmp_path):
    samples = [([0.1, 0.2], [1, 1]), ([0.3], [2]), ([], []), ([0.05, 0.05, 0.05], [0, 0, 0])]
    _write(tmp_path / "shd_train.h5", samples, [2, 0, 1, 2], speakers=[4, 4, 5, 6])
    ds = open_dataset(tmp_path, "train", time_steps=4, duration=0.4)
    assert ds.class_names == ["zero", "one", "two"] and ds.num_classes == 3
    assert ds.labels.dtype == np.int64 and list(ds.labels) == [2, 0, 1, 2]
    assert list(ds.speakers) == [4, 4, 5, 6]
    # sample 3: three spikes of channel 0 in bin 0 -> a count of 3 (binary: 1)
    assert ds[3][0][0, 0] == 3 and ds[2][0].sum() == 0
    assert open_dataset(tmp_path, "train", time_steps=4, duration=0.4, binary=True)[3][0][0, 0] == 1
    # the vectorised batch equals the per-sample path, in the requested order
    x, y = ds.batch([3, 0, 2, 1, 0])
    stacked = torch.stack([ds[i][0] for i in [3, 0, 2, 1, 0]])
    assert torch.equal(x, stacked) and y.tolist() == [2, 2, 1, 0, 2]
    # the default DataLoader collate stacks fixed-length samples; so does our collate
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 4, 700) and yb.tolist() == [2, 0, 1, 2]
    xc, yc = collate([ds[0], ds[1]])
    assert xc.shape == (2, 4, 700) and yc.dtype == torch.int64


def test_split_names_single_file_and_missing_valid(tmp_path):
    _write(tmp_path / "ssc_train.h5", [([0.1], [1])], [0])
    _write(tmp_path / "ssc_test.h5", [([0.1], [1]), ([0.2], [2])], [1, 2])
    assert len(open_dataset(tmp_path, "test")) == 2
    assert len(open_dataset(tmp_path / "ssc_test.h5", "train")) == 2  # a file: split ignored
    with pytest.raises(SnnDeployError, match=r"valid.*valid\.h5"):
        open_dataset(tmp_path, "valid")
    with pytest.raises(SnnDeployError, match="unknown split"):
        open_dataset(tmp_path, "dev")
    _write(tmp_path / "valid.h5", [([0.1], [1])], [0])
    assert len(open_dataset(tmp_path, "valid")) == 1
    _write(tmp_path / "shd_test.h5", [([0.1], [1])], [0])
    with pytest.raises(SnnDeployError, match="several"):
        open_dataset(tmp_path, "test")


def test_written_layout_is_the_published_one(tmp_path):
    _write(tmp_path / "a.h5", [([0.5, 0.25], [3, 4])], [1], speakers=[7], meta_info={"gender": ["female"], "age": [30]})
    with h5py.File(tmp_path / "a.h5") as f:
        assert f["spikes/times"].dtype.metadata["vlen"] == np.float32
        assert f["spikes/units"].dtype.metadata["vlen"] == np.uint16
        assert f["labels"].dtype == np.uint16 and f["extra/speaker"].dtype == np.uint16
        assert [k.decode() for k in f["extra/keys"][()]] == ["zero", "one", "two"]
        assert f["extra/meta_info/age"][0] == 30
        np.testing.assert_allclose(f["spikes/times"][0], [0.5, 0.25])


def test_unit_count_mismatch_and_bad_units(tmp_path):
    p = tmp_path / "bad.h5"
    _write(p, [([0.1, 0.2], [1, 1])], [0])
    with h5py.File(p, "r+") as f:
        f["spikes/units"][0] = np.array([1], np.uint16)
    with pytest.raises(FormatError, match=r"bad\.h5.*sample 0 has 2 spike times but 1 units"):
        read_spike_file(p)
    _write(p, [([0.1], [699])], [0], num_channels=700)
    with pytest.raises(FormatError, match=r"channel 699, expected 0\.\.9"):
        read_spike_file(p, num_channels=10)


def test_label_out_of_range(tmp_path):
    p = tmp_path / "labels.h5"
    _write(p, [([0.1], [1]), ([0.2], [2])], [0, 1])
    with h5py.File(p, "r+") as f:
        f["labels"][1] = 7
    with pytest.raises(FormatError, match=r"labels\.h5.*label 7 of sample 1.*3 classes"):
        open_dataset(p, "train")


def test_missing_dataset_and_not_hdf5(tmp_path):
    p = tmp_path / "train.h5"
    _write(p, [([0.1], [1])], [0])
    with h5py.File(p, "r+") as f:
        del f["spikes/times"]
    with pytest.raises(FormatError, match=r"train\.h5.*missing dataset 'spikes/times'"):
        open_dataset(tmp_path, "train")
    p.write_bytes(b"not hdf5 at all")
    with pytest.raises(FormatError, match=r"train\.h5.*not a readable HDF5"):
        open_dataset(tmp_path, "train")


def test_truncated_file(tmp_path):
    p = tmp_path / "train.h5"
    rng = np.random.default_rng(0)
    samples = [(np.sort(rng.uniform(0, 1.4, 500)), rng.integers(0, 700, 500)) for _ in range(20)]
    _write(p, samples, [0] * 20)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"train\.h5"):
        open_dataset(tmp_path, "train")


def test_gz_hint_and_empty_dir(tmp_path):
    (tmp_path / "shd_train.h5.gz").write_bytes(b"x")
    _write(tmp_path / "shd_test.h5", [([0.1], [1])], [0])
    with pytest.raises(SnnDeployError, match="decompress"):
        open_dataset(tmp_path, "train")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SnnDeployError, match="no data set found"):
        open_dataset(empty, "train")


def test_info_summary_and_cli(tmp_path, capsys):
    from snn_deploy.cli import main
    from snn_deploy.train.data.info import summarize

    _write(tmp_path / "train.h5", [([0.1, 0.5], [1, 2]), ([0.2], [2]), ([], [])], [2, 0, 2], speakers=[3, 3, 9])
    s = summarize(tmp_path / "train.h5")
    assert s["samples"] == 3 and s["classes"] == {"zero": 1, "one": 0, "two": 2}
    assert s["spikes"]["total"] == 3 and s["spikes"]["empty_samples"] == 1 and s["spikes"]["active_channels"] == 2
    assert s["duration_s"]["max_last_spike"] == pytest.approx(0.5)
    assert s["speakers"] == [3, 9]
    assert main(["data", "info", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    import json

    parsed = json.loads(out)
    assert parsed["splits"]["train"]["samples"] == 3 and "missing" in parsed["splits"]["test"]

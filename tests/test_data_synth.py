"""Offline corpus: espeak-ng determinism, the cochlea encoder worked by hand, synth-digits end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from snn_deploy.errors import SnnDeployError
from snn_deploy.train.data import open_dataset
from snn_deploy.train.data.cochlea import Cochlea, CochleaParams, active_rms, center_frequencies, normalize_level
from snn_deploy.train.data.synth.espeak import VoiceSettings, synthesize_with_rate

SMALL = CochleaParams(num_channels=64)


def test_espeak_is_deterministic_and_voices_differ():
    v = VoiceSettings("de", "m3", rate_wpm=150, pitch=40)
    a, rate = synthesize_with_rate("sieben", v, seed=3)
    synthesize_with_rate("acht", VoiceSettings("en-us", "klatt2"), seed=1)  # state in between must not matter
    b, _ = synthesize_with_rate("sieben", v, seed=3)
    assert rate == 22050 and len(a) > 0.2 * rate and np.abs(a).max() > 0.05
    assert np.array_equal(a, b)
    c, _ = synthesize_with_rate("sieben", VoiceSettings("de", "f2", rate_wpm=150, pitch=40), seed=3)
    assert len(c) != len(a) or not np.array_equal(a, c)
    with pytest.raises(SnnDeployError, match="no voice"):
        synthesize_with_rate("eins", VoiceSettings("xx-nolang", "m1"))


def test_center_frequencies_are_erb_spaced():
    fc = center_frequencies(CochleaParams(num_channels=5, f_min_hz=100.0, f_max_hz=4000.0))
    e = 21.4 * np.log10(1 + 0.00437 * fc)  # Glasberg & Moore ERB number
    assert fc[0] == pytest.approx(100.0) and fc[-1] == pytest.approx(4000.0)
    np.testing.assert_allclose(np.diff(e), (e[-1] - e[0]) / 4)


def test_tone_excites_its_place():
    # 1 kHz tone: ERB number 21.4 log10(1 + 4.37) = 15.62; channels span E(50) = 1.84 .. E(7600) = 32.85
    # in 699 steps, so the place of 1 kHz is channel (15.62 - 1.84) / (31.01 / 699) = 310.6.
    cochlea = Cochlea()
    t = np.arange(8000) / 16000
    times, units = cochlea.encode(0.1 * np.sin(2 * np.pi * 1000 * t), 16000, seed=0)
    counts = np.bincount(units, minlength=700)
    assert abs(int(np.argmax(counts)) - 311) <= 3
    assert counts[:200].sum() + counts[500:].sum() < 0.01 * counts.sum()  # far places (nearly) silent
    assert times.dtype == np.float32 and units.dtype == np.uint16 and np.all(np.diff(times) >= 0)
    assert len(cochlea.encode(np.zeros(8000), 16000)[0]) == 0  # silence: no spikes


def test_bushy_cell_lif_by_hand():
    # input 0.6 per step, decay exp(-1 ms / 2 ms) = 0.6065: v = 0.6, 0.964, 1.185 -> spike at step 2,
    # then 2 refractory steps (3, 4), then again 0.6, 0.964, 1.185 -> spikes every 5 steps.
    cochlea = Cochlea(CochleaParams(num_channels=2, noise_std=0.0, gain=1.0))
    drive = np.zeros((20, 2))
    drive[:, 0] = 0.6
    drive[:, 1] = 0.39  # steady state 0.39 / (1 - 0.6065) = 0.991 < 1: never fires
    times, units = cochlea.bushy_cells(drive, np.random.default_rng(0))
    assert units.tolist() == [0, 0, 0, 0]
    np.testing.assert_allclose(times, [0.002, 0.007, 0.012, 0.017], atol=1e-7)


def test_normalize_level():
    x = np.concatenate([np.zeros(1600), 0.5 * np.sin(2 * np.pi * 440 * np.arange(3200) / 16000)])
    assert active_rms(x, 16000) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)  # silent frames excluded
    assert active_rms(normalize_level(x, 16000, -20.0), 16000) == pytest.approx(0.1, rel=1e-3)


def test_encode_cli_folder_per_class(tmp_path, capsys):
    from snn_deploy.cli import main

    t = np.arange(6000) / 16000
    for name, f in (("high", 3000.0), ("low", 300.0)):
        (tmp_path / "wav" / name).mkdir(parents=True)
        for i in range(2):
            soundfile.write(tmp_path / "wav" / name / f"{i}.wav", 0.2 * np.sin(2 * np.pi * f * t), 16000)
    out = tmp_path / "out.h5"
    assert main(["data", "encode", str(tmp_path / "wav"), "-o", str(out), "--channels", "64", "--workers", "1"]) == 0
    ds = open_dataset(out, "train")
    assert ds.class_names == ["high", "low"] and ds.labels.tolist() == [0, 0, 1, 1] and ds.num_channels == 64
    high, low = ds[0][0].sum(0), ds[2][0].sum(0)
    assert int(high.argmax()) > 32 > int(low.argmax())  # 3 kHz excites a higher place than 300 Hz
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["samples"] == 4 and summary["cochlea"]["num_channels"] == 64
    assert main(["data", "encode", str(tmp_path / "wav" / "low"), "-o", str(tmp_path / "x.h5")]) == 1
    assert "no labelled audio found" in capsys.readouterr().err and not (tmp_path / "x.h5").exists()


def _tree_bytes(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_synth_digits_tiny_is_deterministic_and_speaker_independent(tmp_path):
    from snn_deploy.train.data.synth.corpus import TEST_VOICES, VOICE_VARIANTS, SynthConfig, synth_digits

    config = SynthConfig(train_per_class=2, test_per_class=1, seed=7, cochlea=SMALL)
    synth_digits(tmp_path / "a", config, workers=1, progress=False)
    synth_digits(tmp_path / "b", config, workers=2, progress=False)
    a, b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)  # same bytes, whatever the worker count
    assert len([k for k in a if k.endswith(".wav")]) == 60

    train, test = open_dataset(tmp_path / "a", "train"), open_dataset(tmp_path / "a", "test")
    assert train.num_classes == test.num_classes == 20 and train.class_names[15] == "fünf"
    assert np.bincount(train.labels).tolist() == [2] * 20 and np.bincount(test.labels).tolist() == [1] * 20
    test_ids = {VOICE_VARIANTS.index(v) for v in TEST_VOICES}
    assert set(test.speakers.tolist()) <= test_ids and not set(train.speakers.tolist()) & test_ids
    x, _ = train[0]
    assert x.shape == (100, 64) and x.sum() > 100  # a spoken word makes spikes

    hd = open_dataset(tmp_path / "a" / "hd", "test")  # the same audio through the filterbank path
    assert hd.input_kind == "graded" and hd.labels.tolist() == test.labels.tolist()
    assert json.loads((tmp_path / "a" / "synth.json").read_text())["splits"]["train"]["samples"] == 40

    # re-encoding the written audio reproduces the spike file exactly
    from snn_deploy.cli import main

    assert main(["data", "encode", str(tmp_path / "a" / "hd"), "--split", "test", "-o", str(tmp_path / "re.h5"),
                 "--channels", "64", "--seed", "7", "--workers", "1"]) == 0
    assert (tmp_path / "re.h5").read_bytes() == a["test.h5"]

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(SnnDeployError, match="not written by snn-deploy synth-digits"):
        synth_digits(other, config, progress=False)
    assert (other / "notes.txt").read_text() == "keep me"

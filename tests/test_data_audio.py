"""HD and Speech Commands layouts: label mapping, splits, log-mel feature shapes, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.train.data import open_dataset
from snn_deploy.train.data.features import log_mel

pytestmark = pytest.mark.audio    # HD/SC filterbank features: torchaudio


def tone(freq=1000.0, seconds=0.5, rate=16000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, 1) if channels > 1 else x


def make_hd(root, train, test, rate=16000):
    (root / "audio").mkdir(parents=True)
    for name in train + test:
        soundfile.write(root / "audio" / name, tone(rate=rate), rate)
    (root / "train_filenames.txt").write_text("\n".join(train) + "\n")
    (root / "test_filenames.txt").write_text("\n".join(test) + "\n")


HD_TRAIN = ["lang-english_speaker-00_trial-0_digit-3.wav", "lang-german_speaker-01_trial-2_digit-7.wav"]
HD_TEST = ["lang-german_speaker-04_trial-0_digit-0.wav"]


def test_log_mel_by_hand():
    # 0.5 s at 16 kHz, 25 ms window (400 samples), 10 ms hop (160): 1 + (8000 - 400) // 160 = 48 frames.
    feats = log_mel(tone(1000.0), 16000)
    assert feats.shape == (48, 40) and feats.dtype == np.float32
    # Kaldi mel bands span 20 Hz..8 kHz: mel(f) = 1127 ln(1 + f/700), 40 triangles with centres at
    # mel(20) + (i+1) * (mel(8000) - mel(20)) / 41 = 31.7 + 68.5 (i+1); 1 kHz (mel 1000) is nearest i = 13.
    assert int(np.argmax(feats.mean(0))) == 13
    # The same tone at 48 kHz is resampled to 16 kHz first: same frames, same band.
    feats48 = log_mel(tone(1000.0, rate=48000), 48000)
    assert feats48.shape == (48, 40) and int(np.argmax(feats48.mean(0))) == 13


def test_hd_layout_labels_splits_shapes(tmp_path):
    make_hd(tmp_path, HD_TRAIN, HD_TEST)
    ds = open_dataset(tmp_path, "train", time_steps=60)
    assert ds.input_kind == "graded" and ds.num_channels == 40 and ds.num_classes == 20
    assert list(ds.labels) == [3, 17] and list(ds.speakers) == [0, 1]
    assert ds.class_names[3] == "three" and ds.class_names[17] == "sieben"
    x, y = ds[1]
    assert x.shape == (60, 40) and x.dtype == torch.float32 and y == 17
    assert torch.all(x[48:] == 0) and torch.all(x[:48] != 0)  # 48 real frames, zero padding after
    assert open_dataset(tmp_path, "train", time_steps=20)[0][0].shape == (20, 40)  # cropped
    test = open_dataset(tmp_path, "test")
    assert list(test.labels) == [10] and test.sample_rate == 16000
    with pytest.raises(SnnDeployError, match="valid"):
        open_dataset(tmp_path, "valid")
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert xb.shape == (2, 60, 40) and yb.tolist() == [3, 17]


def test_hd_list_disagrees_with_files(tmp_path):
    make_hd(tmp_path, HD_TRAIN, HD_TEST)
    (tmp_path / "train_filenames.txt").write_text(HD_TRAIN[0] + "\nlang-english_speaker-02_trial-0_digit-5.wav\n")
    with pytest.raises(FormatError, match=r"train_filenames\.txt:2: lists 'lang-english_speaker-02.*not in"):
        open_dataset(tmp_path, "train")
    (tmp_path / "train_filenames.txt").write_text("hello.wav\n")
    with pytest.raises(FormatError, match=r"train_filenames\.txt:1: 'hello\.wav' is not an HD file name"):
        open_dataset(tmp_path, "train")
    (tmp_path / "train_filenames.txt").write_text("\n")
    with pytest.raises(FormatError, match="lists no recordings"):
        open_dataset(tmp_path, "train")


def test_bad_wavs(tmp_path):
    make_hd(tmp_path, HD_TRAIN, HD_TEST)
    bad = tmp_path / "audio" / HD_TRAIN[1]
    soundfile.write(bad, tone(rate=8000), 8000)
    ds = open_dataset(tmp_path, "train")
    with pytest.raises(FormatError, match=r"digit-7\.wav: sample rate 8000 Hz, expected 16000 Hz"):
        ds[1]
    soundfile.write(bad, tone(channels=2), 16000)
    with pytest.raises(FormatError, match=r"digit-7\.wav: 2 channels, expected mono"):
        open_dataset(tmp_path, "train")[1]
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(FormatError, match=r"digit-7\.wav: not a readable audio file"):
        open_dataset(tmp_path, "train")[1]


def make_sc(root, files, valid, test):
    for rel, rate in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / rel, tone(seconds=1.0, rate=rate), rate)
    (root / "_background_noise_").mkdir()
    soundfile.write(root / "_background_noise_" / "noise.wav", tone(seconds=1.0), 16000)
    (root / "validation_list.txt").write_text("\n".join(valid) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")


def test_speech_commands_layout(tmp_path):
    files = {f"{w}/{h}_nohash_0.wav": 16000 for w in ("yes", "no", "up") for h in ("aa", "bb", "cc")}
    make_sc(tmp_path, files, valid=["yes/bb_nohash_0.wav"], test=["up/cc_nohash_0.wav", "no/aa_nohash_0.wav"])
    train = open_dataset(tmp_path, "train")
    assert train.class_names == ["no", "up", "yes"]  # sorted word folders, _background_noise_ ignored
    assert len(train) == 6 and sorted(train.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    assert open_dataset(tmp_path, "valid").labels.tolist() == [2]
    test = open_dataset(tmp_path, "test", time_steps=98)
    assert test.labels.tolist() == [1, 0]
    assert test[0][0].shape == (98, 40) and torch.all(test[0][0] != 0)  # 1 s -> 1 + (16000-400)//160 = 98 frames


def test_speech_commands_bad_inputs(tmp_path):
    files = {"yes/aa_nohash_0.wav": 16000, "no/aa_nohash_0.wav": 8000}
    make_sc(tmp_path, files, valid=["yes/aa_nohash_0.wav"], test=["no/aa_nohash_0.wav"])
    with pytest.raises(FormatError, match=r"no/aa_nohash_0\.wav: sample rate 8000 Hz, expected 16000 Hz"):
        open_dataset(tmp_path, "test")[0]
    (tmp_path / "testing_list.txt").write_text("maybe/zz_nohash_0.wav\n")
    with pytest.raises(FormatError, match=r"testing_list\.txt:1: 'maybe/zz_nohash_0\.wav' is not in a word folder"):
        open_dataset(tmp_path, "test")
    (tmp_path / "testing_list.txt").write_text("no/zz_nohash_0.wav\n")
    with pytest.raises(FormatError, match=r"testing_list\.txt:1: lists 'no/zz_nohash_0\.wav', which does not exist"):
        open_dataset(tmp_path, "train")


def test_empty_directories(tmp_path):
    with pytest.raises(SnnDeployError, match="no data set found"):
        open_dataset(tmp_path, "train")
    (tmp_path / "validation_list.txt").write_text("")
    with pytest.raises(FormatError, match="no word folders"):
        open_dataset(tmp_path, "train")

"""``snn-deploy data synth-digits``: an offline spoken-digit corpus in the HD/SHD layouts.

Twenty classes as in SHD (Cramer et al. 2020): the digits 0-9 spoken in English (labels 0-9) and
German (labels 10-19). Each utterance is synthesized by espeak-ng (:mod:`.espeak`) with a voice
variant (the "speaker") and random prosody (rate, pitch, pitch range), placed after a random
silence, scaled to an active level of -20 dBFS, and mixed with optional background noise (white or
pink, random SNR). The test split uses only voices that never occur in training (speaker-independent,
like SHD's held-out speakers).

Output directory::

    DIR/hd/audio/lang-<english|german>_speaker-NN_trial-N_digit-D.wav   16 kHz mono, 16 bit
    DIR/hd/train_filenames.txt, DIR/hd/test_filenames.txt           (Heidelberg Digits layout)
    DIR/train.h5, DIR/test.h5                                         spikes, SHD layout (:mod:`..cochlea`)
    DIR/synth.json                                                    config, voices, sizes, timings

``open_dataset(DIR, split)`` gives the spikes; ``open_dataset(DIR / "hd", split)`` the log-mel
filterbanks of the same audio. Every utterance is a pure function of (seed, split, index), so the
whole directory is byte-for-byte reproducible for a seed, whatever the number of workers.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from snn_deploy.atomic import write_text_atomic
from snn_deploy.errors import SnnDeployError
from snn_deploy.layout import SYNTH_RECORD, split_file

from snn_deploy.train.data.audio import ENGLISH_DIGITS, GERMAN_DIGITS, HD_CLASS_NAMES, HD_LISTS, AudioItem
from snn_deploy.train.data.cochlea import DEFAULT_LEVEL_DBFS, CochleaParams, normalize_level, resample
from snn_deploy.train.data.encode import (CHUNK, cochlea_for, encode_waveforms, load_for_encoding, map_chunks,
                                          write_encoded)
from snn_deploy.train.data.synth.espeak import VoiceSettings, synthesize_with_rate

AUDIO_RATE_HZ = 16000
LANGUAGES = (("english", "en-us", ENGLISH_DIGITS), ("german", "de", GERMAN_DIGITS))
#: espeak-ng 1.52 voice variants (espeak-ng-data/voices/!v), the synthetic speakers.
VOICE_VARIANTS = (
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Denis", "Diogo", "Gene", "Gene2",
    "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Mr serious", "Nguyen",
    "Reed", "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "adam", "anika",
    "announcer", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "croak", "david", "ed",
    "edward", "edward2", "f1", "f2", "f3", "f4", "f5", "fast", "grandma", "grandpa", "gustave", "ian",
    "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4",
    "klatt5", "klatt6", "linda", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "marcelo", "max",
    "michel", "miguel", "mike2", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert",
    "sandro", "shelby", "steph", "steph2", "steph3", "travis", "victor", "zac",
)
#: The two voices held out for the test split: a female variant and a male one with lowered formants
#: (held-out "m6", a near-default male voice, was recognised 99.6% by adLIF: too easy a test).
TEST_VOICES = ("f4", "Marco")
SIZES = {  # utterances per class: (train, test)
    "tiny": (4, 2),
    "small": (30, 8),
    "default": (120, 24),
}
TAIL_S = 0.08  # silence kept after the word


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines the corpus (recorded in synth.json)."""

    seed: int = 0
    train_per_class: int = SIZES["default"][0]
    test_per_class: int = SIZES["default"][1]
    test_voices: tuple[str, ...] = TEST_VOICES
    rate_wpm: tuple[int, int] = (110, 250)
    pitch: tuple[int, int] = (15, 85)
    pitch_range: tuple[int, int] = (10, 90)
    onset_s: tuple[float, float] = (0.0, 0.25)
    max_duration_s: float = 1.4
    noise_snr_db: tuple[float, float] | None = (0.0, 20.0)  # None: no background noise
    level_dbfs: float = DEFAULT_LEVEL_DBFS
    cochlea: CochleaParams = field(default_factory=CochleaParams)

    @classmethod
    def for_size(cls, size: str, **overrides) -> "SynthConfig":
        if size not in SIZES:
            raise SnnDeployError(f"unknown size '{size}': expected one of {', '.join(SIZES)}")
        train, test = SIZES[size]
        return replace(cls(train_per_class=train, test_per_class=test), **overrides)

    def train_voices(self) -> tuple[str, ...]:
        return tuple(v for v in VOICE_VARIANTS if v not in self.test_voices)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cochlea"] = self.cochlea.to_dict()
        return d


@dataclass(frozen=True)
class Utterance:
    """One planned recording: what to say, with which voice, and how to degrade it."""

    split: str
    index: int
    label: int
    speaker: int  # index in VOICE_VARIANTS
    trial: int
    voice: VoiceSettings
    text: str
    onset_s: float
    noise_snr_db: float | None
    noise_color: str  # "white" or "pink"
    seed: int

    @property
    def file_name(self) -> str:
        lang = LANGUAGES[self.label // 10][0]
        return f"lang-{lang}_speaker-{self.speaker:02d}_trial-{self.trial}_digit-{self.label % 10}.wav"


def plan(config: SynthConfig) -> dict[str, list[Utterance]]:
    """The utterances of both splits, drawn from generators seeded by (seed, split, index)."""
    unknown = [v for v in config.test_voices if v not in VOICE_VARIANTS]
    if unknown:
        raise SnnDeployError(f"unknown test voice(s) {unknown}: choose from espeak-ng's variants {VOICE_VARIANTS}")
    splits = {"train": (config.train_voices(), config.train_per_class), "test": (config.test_voices, config.test_per_class)}
    out: dict[str, list[Utterance]] = {}
    for split_id, (split, (voices, per_class)) in enumerate(splits.items()):
        utterances, trials = [], {}
        for index in range(per_class * len(HD_CLASS_NAMES)):
            rng = np.random.default_rng([config.seed, split_id, index])
            label = index % len(HD_CLASS_NAMES)
            variant = voices[int(rng.integers(len(voices)))] if split == "train" else voices[(index // len(HD_CLASS_NAMES)) % len(voices)]
            speaker = VOICE_VARIANTS.index(variant)
            lang = LANGUAGES[label // 10]
            voice = VoiceSettings(
                language=lang[1], variant=variant,
                rate_wpm=int(rng.integers(config.rate_wpm[0], config.rate_wpm[1] + 1)),
                pitch=int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
                pitch_range=int(rng.integers(config.pitch_range[0], config.pitch_range[1] + 1)),
            )
            snr = float(rng.uniform(*config.noise_snr_db)) if config.noise_snr_db else None
            key = (speaker, label)
            trials[key] = trials.get(key, -1) + 1
            utterances.append(Utterance(
                split=split, index=index, label=label, speaker=speaker, trial=trials[key], voice=voice,
                text=lang[2][label % 10], onset_s=float(rng.uniform(*config.onset_s)), noise_snr_db=snr,
                noise_color="pink" if rng.random() < 0.5 else "white", seed=int(rng.integers(2**31)),
            ))
        out[split] = utterances
    return out


def _noise(n: int, color: str, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if color == "white":
        return white
    spectrum = np.fft.rfft(white)
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n)  # 1/f power: pink


def render(utt: Utterance, config: SynthConfig) -> np.ndarray:
    """The waveform (float64, 16 kHz) of one utterance: voice, silence, level, noise."""
    speech, rate = synthesize_with_rate(utt.text, utt.voice, seed=utt.seed)
    if not len(speech):
        raise SnnDeployError(f"espeak-ng produced no audio for {utt.text!r} with voice {utt.voice.voice_name}")
    speech = resample(speech, rate, AUDIO_RATE_HZ)
    nz = np.flatnonzero(np.abs(speech) > 1e-4)  # trim espeak's own leading/trailing silence
    speech = speech[nz[0] : nz[-1] + 1]
    speech = normalize_level(speech, AUDIO_RATE_HZ, config.level_dbfs)
    onset = int(utt.onset_s * AUDIO_RATE_HZ)
    total = min(onset + len(speech) + int(TAIL_S * AUDIO_RATE_HZ), int(config.max_duration_s * AUDIO_RATE_HZ))
    x = np.zeros(total)
    seg = speech[: max(0, total - onset)]
    x[onset : onset + len(seg)] = seg
    if utt.noise_snr_db is not None:
        rng = np.random.default_rng(utt.seed)
        noise = _noise(total, utt.noise_color, rng)
        noise *= 10 ** ((config.level_dbfs - utt.noise_snr_db) / 20) / np.sqrt(np.mean(noise ** 2))
        x = x + noise
    return np.clip(x, -1.0, 1.0)


def _render_chunk(
    utts: list[Utterance], config: SynthConfig, audio_dir: str
) -> list[tuple[str, int, np.ndarray, np.ndarray, float]]:
    """Render, write and encode utterances; returns ``(split, index, times, units, seconds)`` for each.

    The spikes are computed from the WAV as written (16-bit), exactly as ``snn-deploy data encode``
    would compute them from the ``hd/`` folder.
    """
    import soundfile

    waves = []
    for utt in utts:
        path = Path(audio_dir) / utt.file_name
        soundfile.write(str(path), render(utt, config), AUDIO_RATE_HZ, subtype="PCM_16")
        waves.append(load_for_encoding(path, config.level_dbfs))
    spikes = encode_waveforms(cochlea_for(config.cochlea), waves, [u.index for u in utts], config.seed)
    return [(u.split, u.index, t, s, len(x) / rate) for u, (t, s), (x, rate) in zip(utts, spikes, waves)]


def synth_digits(
    out_dir: str | os.PathLike,
    config: SynthConfig = SynthConfig(),
    *,
    workers: int = 1,
    progress: bool = True,
    force: bool = False,
) -> dict:
    """Synthesize, write and encode the corpus into ``out_dir``; returns synth.json's record.

    The corpus is one set of snn_deploy/outdir.py (locked, committed whole, replacing only the corpus
    synth-digits wrote there before); ``force`` writes into a non-empty directory it did not write.
    """
    from snn_deploy.outdir import output_dir

    with output_dir(out_dir, "synth-digits", force=force) as out_set, out_set.staging() as tmp:
        return _synth_into(tmp, config, workers, progress)


def _synth_into(tmp: Path, config: SynthConfig, workers: int, progress: bool) -> dict:
    from snn_deploy.log import progress_bar

    t0 = time.perf_counter()
    utterances = plan(config)
    total = sum(len(v) for v in utterances.values())
    record = {"config": config.to_dict(), "class_names": list(HD_CLASS_NAMES),
              "voices": {"train": list(config.train_voices()), "test": list(config.test_voices)}, "splits": {}}
    audio_dir = tmp / "hd" / "audio"
    audio_dir.mkdir(parents=True)
    chunks = [utts[i : i + CHUNK] for utts in utterances.values() for i in range(0, len(utts), CHUNK)]
    results: dict[str, dict] = {split: {} for split in utterances}
    with progress_bar(total, "synthesize + encode", enabled=progress, unit="word") as bar:
        for split, index, t, u, d in map_chunks(_render_chunk, chunks, (config, str(audio_dir)), workers, bar):
            results[split][index] = (t, u, d)
    for split, utts in utterances.items():
        write_text_atomic(tmp / "hd" / HD_LISTS[split], "".join(u.file_name + "\n" for u in utts))
        items = [AudioItem(audio_dir / u.file_name, u.label, u.speaker) for u in utts]
        summary = write_encoded(tmp / split_file(split), items, list(HD_CLASS_NAMES), results[split],
                                params=config.cochlea, seed=config.seed, level_dbfs=config.level_dbfs)
        summary["path"] = split_file(split)
        summary["speakers"] = sorted({u.speaker for u in utts})
        record["splits"][split] = summary
    # no timings in synth.json: the directory must be the same bytes for the same seed
    write_text_atomic(tmp / SYNTH_RECORD, json.dumps(record, indent=2, ensure_ascii=False))
    timings = {"total": round(time.perf_counter() - t0, 1), "workers": workers}
    record["seconds"] = timings
    return record

"""``snn-deploy data ...``: info, download, synth-digits, encode (see train/data/__init__.py)."""
from __future__ import annotations

import argparse
import json
import os

from snn_deploy.jsonout import add_json_options, json_out_path, print_json, write_json_out


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``data`` and its subcommands. Heavy imports go inside the command functions."""
    data = subparsers.add_parser("data", help="data sets: inspect, download, synthesize, encode")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    p = sub.add_parser("info", help="classes, counts, duration and spike statistics of a spike file or data dir")
    p.add_argument("path", help="an SHD-layout .h5 file or a data directory")
    add_json_options(p, "the summary")
    p.set_defaults(func=_info)

    p = sub.add_parser(
        "download", help="download SHD/SSC/HD/SC from their official sites (checksummed, resumable)",
        description="Download a data set from its official site: SHD/SSC/HD from the Zenke lab's site "
        "(verified against its md5sums.txt), Speech Commands v0.02 from download.tensorflow.org (SHA-256). "
        "Interrupted downloads resume; files appear only when complete. Writes DIR/download.json.",
    )
    p.add_argument("dataset", choices=["shd", "ssc", "hd", "sc"],
                   help="shd / ssc: Spiking Heidelberg Digits / Speech Commands (spikes); hd / sc: their audio")
    p.add_argument("--dir", required=True, help="data directory to fill (then pass it to --data)")
    p.add_argument("--base-url", help="mirror replacing the official location")
    p.add_argument("--keep-archives", action="store_true", help="keep the .gz/.tar.gz files after unpacking")
    p.add_argument("--retries", type=int, default=5, help="attempts per file after a dropped connection (default 5)")
    p.set_defaults(func=_download)

    p = sub.add_parser(
        "synth-digits", help="synthesize the offline spoken-digit corpus (espeak-ng, 20 classes, SHD layout)",
        description="Spoken digits 0-9 in English and German (20 classes, like SHD) synthesized offline with "
        "espeak-ng, many voices/pitches/rates, two voices held out for the test split, optional noise. Writes "
        "DIR/hd/ (WAVs, Heidelberg Digits layout), DIR/train.h5 and DIR/test.h5 (spikes, SHD layout) and "
        "DIR/synth.json. Deterministic for a seed.",
    )
    p.add_argument("-o", "--out", required=True,
                   help="output directory (a corpus synth-digits wrote there before is replaced as a whole)")
    p.add_argument("--force", action="store_true", help="write into a non-empty directory synth-digits did not write")
    p.add_argument("--seed", type=int, default=0, help="seed of voices, noise and encoder (default 0; same seed, same bytes)")
    p.add_argument("--size", choices=["tiny", "small", "default"], default="default",
                   help="tiny: 4+2 words/class, small: 30+8, default: 120+24 (train+test)")
    p.add_argument("--per-class", type=int, help="training words per class (overrides --size)")
    p.add_argument("--test-per-class", type=int, help="test words per class (overrides --size)")
    p.add_argument("--noise-snr", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="background noise SNR range in dB (default 0 20)")
    p.add_argument("--no-noise", action="store_true", help="no background noise")
    p.add_argument("--channels", type=int, default=700, help="cochlear channels / input neurons (default 700)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    p.set_defaults(func=_synth_digits)

    p = sub.add_parser(
        "encode", help="encode a folder of labelled audio into SHD-layout spikes (cochlea model)",
        description="Convert labelled audio (Heidelberg Digits or Speech Commands layout, or one sub-folder per "
        "class) to spikes in the SHD HDF5 layout with the cochlea-inspired encoder (ERB-spaced gammatone "
        "filterbank, hair-cell rectification/compression/adaptation, LIF bushy cells). Writes OUT.h5 and OUT.json.",
    )
    p.add_argument("wav_dir", help="audio folder: Heidelberg Digits or Speech Commands layout, or one sub-folder "
                   "of .wav/.flac files per class (the sub-folder name is the class)")
    p.add_argument("-o", "--out", required=True, help="output .h5 file")
    p.add_argument("--split", default="all", choices=["all", "train", "valid", "test"],
                   help="which split of an HD/SC folder (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bushy cells' noise")
    p.add_argument("--channels", type=int, default=700, help="cochlear channels / input neurons (default 700)")
    p.add_argument("--level-dbfs", type=float, default=-20.0, help="active speech level files are scaled to")
    p.add_argument("--no-normalize", action="store_true", help="keep the files' own levels")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    p.set_defaults(func=_encode)


def _info(args) -> int:
    from snn_deploy.train.data.info import format_summary, summarize

    summary = summarize(args.path)
    path = json_out_path(args)
    if path is not None:
        write_json_out(path, summary)
    if not print_json(args, summary):
        print(format_summary(summary) + (f"\nwrote {path}" if path is not None else ""))
    return 0


def _download(args) -> int:
    from snn_deploy.train.data.download import download_dataset

    record = download_dataset(args.dataset, args.dir, base_url=args.base_url, keep_archives=args.keep_archives,
                              retries=args.retries)
    fetched = [f for f in record["files"] if "skipped" not in f]
    skipped = [f for f in record["files"] if "skipped" in f]
    print(f"{args.dataset}: {len(fetched)} file(s) downloaded and verified, {len(skipped)} already present, "
          f"in {args.dir} (record: {args.dir}/download.json)")
    return 0


def _synth_digits(args) -> int:
    from snn_deploy.errors import SnnDeployError

    from snn_deploy.train.data.cochlea import CochleaParams
    from snn_deploy.train.data.synth.corpus import SynthConfig, synth_digits

    overrides = {"cochlea": CochleaParams(num_channels=args.channels), "seed": args.seed}
    if args.per_class is not None:
        overrides["train_per_class"] = args.per_class
    if args.test_per_class is not None:
        overrides["test_per_class"] = args.test_per_class
    if args.no_noise:
        overrides["noise_snr_db"] = None
    elif args.noise_snr:
        overrides["noise_snr_db"] = tuple(args.noise_snr)
    if min(overrides.get("train_per_class", 1), overrides.get("test_per_class", 1)) < 1:
        raise SnnDeployError("--per-class and --test-per-class must be >= 1")
    config = SynthConfig.for_size(args.size, **overrides)
    record = synth_digits(args.out, config, workers=args.workers, force=args.force)
    tr, te = record["splits"]["train"], record["splits"]["test"]
    print(
        f"synth-digits: {tr['samples']} train words ({len(record['voices']['train'])} voices) + {te['samples']} test "
        f"words (held-out voices {', '.join(record['voices']['test'])}), 20 classes, {config.cochlea.num_channels} "
        f"channels, {tr['spikes_per_sample_mean']:.0f} spikes/word, in {record['seconds']['total']:.0f} s -> "
        f"{args.out} (train.h5, test.h5, hd/, synth.json)"
    )
    return 0


def _encode(args) -> int:
    from pathlib import Path

    from snn_deploy.atomic import write_text_atomic

    from snn_deploy.train.data.cochlea import CochleaParams
    from snn_deploy.train.data.encode import check_output_path, encode_items, list_labelled_audio

    out = Path(args.out)
    check_output_path(out)
    items, names = list_labelled_audio(args.wav_dir, args.split)
    params = CochleaParams(num_channels=args.channels)
    summary = encode_items(items, names, out, params=params, seed=args.seed, workers=args.workers,
                           level_dbfs=None if args.no_normalize else args.level_dbfs)
    summary.update(source=str(args.wav_dir), split=args.split, cochlea=params.to_dict(), class_names=names)
    write_text_atomic(out.with_suffix(".json"), json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"encode: {summary['samples']} files, {summary['num_classes']} classes -> {out} "
          f"({summary['spikes_per_sample_mean']:.0f} spikes/file, {summary['seconds']:.1f} s)")
    return 0

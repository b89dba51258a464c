"""Outputs, locks, errors and exit codes (snn_deploy/outdir.py, snn_deploy/cli.py main), through the CLI.

A command replaces only what it wrote, commits its files as one set, holds its output directory
against a second command, and ends every failure a user can cause in one ``error:`` line with
status 1 (failure), 2 (usage) or 130 (interrupt).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clitools import TINY_TRAIN, assert_one_line_error, cli_env, copy_tree, digest_tree, run_cli

CLI = [sys.executable, "-m", "snn_deploy"]
CONVERT_SET = ("network.h5", "network_float.h5", "quantization.json", "summary.txt")


def _visible_digests(root: Path) -> dict[str, str]:
    """What the user sees: files outside our hidden manifests, lock and staging directories."""
    return {k: v for k, v in digest_tree(root).items() if not any(part.startswith(".") for part in Path(k).parts)}


def _wait_for_lock(directory: Path, timeout: float = 60) -> None:
    lock_file, deadline = directory / ".snn-deploy.lock", time.monotonic() + timeout
    while not (lock_file.is_file() and lock_file.read_text().strip()):
        assert time.monotonic() < deadline, f"no lock in {directory} after {timeout} s"
        time.sleep(0.02)


def test_foreign_outputs_and_file_system_errors_are_one_line_and_change_nothing(pipeline, tmp_path):
    run = copy_tree(pipeline.run, tmp_path / "run")
    out = run / "loihi"
    before = digest_tree(run)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")

    # energy -o RUN_DIR once deleted model.pt, last.pt and the user's notes: now an error naming it
    assert_one_line_error(run_cli("energy", out, "-o", run, "--no-plots"), str(run), "not written by snn-deploy energy")
    assert_one_line_error(run_cli("energy", out, "-o", notes), str(notes), "not a directory")
    # single-file outputs: replaced only when their content shows that the same command wrote them
    assert_one_line_error(run_cli("export", run / "model.pt", "-o", notes), str(notes), "not written by snn-deploy export")
    assert_one_line_error(run_cli("eval", run / "model.pt", "--data", pipeline.data, "--json", notes), str(notes),
                          "not written by snn-deploy eval")
    assert_one_line_error(run_cli("export", run / "model.pt", "-o", run), str(run), "is a directory")
    assert digest_tree(run) == before and notes.read_text() == "my notes\n"

    dangling, loop = tmp_path / "dangling", tmp_path / "loop"
    dangling.symlink_to(tmp_path / "nowhere")
    loop.symlink_to(loop)
    for link in (dangling, loop):
        assert_one_line_error(run_cli("energy", out, "-o", link), str(link), "leads nowhere")
    assert os.readlink(dangling) == str(tmp_path / "nowhere") and not (tmp_path / "nowhere").exists()

    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.txt"))  # a Latin-1 byte: not UTF-8
    odd.write_text("x")
    assert_one_line_error(run_cli("energy", out, "-o", odd), "caf", "not a directory")
    assert odd.read_text() == "x"

    if os.geteuid() == 0:  # root writes through permission bits: take a directory the kernel refuses
        read_only = Path("/sys/kernel/snn-deploy-test")
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        read_only = tmp_path / "ro" / "report"
    line = assert_one_line_error(run_cli("energy", out, "-o", read_only, "--no-plots"), str(read_only))
    assert "permitted" in line or "denied" in line or "Read-only" in line, line

    # --force: the report is written beside the run's files; nothing of theirs changes
    forced = run_cli("energy", out, "-o", run, "--no-plots", "--force")
    assert forced.returncode == 0, forced.stderr
    after = digest_tree(run)
    assert {k: after[k] for k in before} == before
    assert {k for k in after if k not in before and not Path(k).name.startswith(".")} == {"energy.json", "energy.md"}


def test_closed_pipe_and_ctrl_c_during_startup(pipeline, tmp_path):
    reader_gone = subprocess.Popen([*CLI, "energy", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=cli_env())
    reader_gone.stdout.close()  # `| head` that has already exited: the first write meets EPIPE
    err = reader_gone.stderr.read().decode()
    # 1 where the write meets the closed pipe; Python 3.13's argparse swallows that OSError itself (exit 0)
    exits = (0, 1) if sys.version_info >= (3, 13) else (1,)
    assert reader_gone.wait(timeout=60) in exits and err == "", err

    run_dir = tmp_path / "run"
    # SIG_DFL in the child: a shell's background job (CI, `make test &`) inherits SIGINT ignored, and Python keeps it so
    proc = subprocess.Popen([*CLI, "train", "--data", str(pipeline.data), "-o", str(run_dir), *TINY_TRAIN, "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_lock(run_dir)  # train holds its run directory and is now loading torch (seconds)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err, err
    assert not run_dir.exists(), "an interrupted train left its (empty) run directory"


KILL_AT_REPLACE = """
import os, signal, sys
real_replace, calls = os.replace, []
def replace(src, dst):  # SIGKILL the process before the Nth rename of convert's commit (staging -> journal -> OUT)
    if os.fspath(src).endswith(".snn-deploy-convert.tmp") or ".snn-deploy-convert.new" in os.fspath(src):
        calls.append(src)
        if len(calls) == int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)
os.replace = replace
from snn_deploy.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_convert_killed_in_its_commit_leaves_the_old_set_or_the_new_one(pipeline, tmp_path):
    out = copy_tree(pipeline.out, tmp_path / "out")
    old = digest_tree(out)
    convert = ["convert", pipeline.run / "model.pt", "--target", "loihi-sim", "-o", out]  # the fixture: loihi-emu

    def killed_at(n: int) -> None:
        proc = subprocess.run([sys.executable, "-c", KILL_AT_REPLACE, str(n), *map(str, convert)],
                              capture_output=True, text=True, env=cli_env(), timeout=180)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]

    killed_at(1)  # before the commit point (staging -> journal): OUT is the old set, the staging is left over
    assert _visible_digests(out) == _visible_digests(Path(pipeline.out))
    assert (out / ".snn-deploy-convert.tmp").is_dir()

    killed_at(3)  # after it, with one file moved: the journal holds the rest
    assert (out / ".snn-deploy-convert.new").is_dir() and not (out / ".snn-deploy-convert.tmp").exists()

    # the next command on OUT, here a reader (energy), finishes the commit before it reads
    report = run_cli("energy", out, "-o", tmp_path / "report", "--no-plots")
    assert report.returncode == 0, report.stderr
    manifest = json.loads((out / ".snn-deploy-convert.json").read_text())["files"]
    now = digest_tree(out)
    assert set(manifest) == set(CONVERT_SET) and {n: now[n] for n in manifest} == manifest   # all new
    assert all(manifest[n] != old[n] for n in ("network.h5", "quantization.json"))
    assert json.loads((out / "quantization.json").read_text())["target"] == "loihi-sim"
    assert now["activity.h5"] == old["activity.h5"]   # run's file in OUT: not convert's to touch
    assert not [p.name for p in out.iterdir() if p.name.endswith((".tmp", ".new", ".old"))]


def test_a_second_command_on_a_directory_in_use_names_the_first(pipeline, tmp_path):
    run_dir = tmp_path / "run"
    first = subprocess.Popen([*CLI, "train", "--data", str(pipeline.data), "-o", str(run_dir), *TINY_TRAIN,
                              "--epochs", "50", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=cli_env())
    try:
        _wait_for_lock(run_dir)
        second = run_cli("train", "--data", pipeline.data, "-o", run_dir, *TINY_TRAIN, "--quiet")
        assert_one_line_error(second, str(run_dir), f"in use by snn-deploy train (PID {first.pid})")
    finally:
        first.kill()
        first.wait(timeout=60)
    # the lock of a killed process blocks nobody (the kernel dropped it with the process)
    out = copy_tree(pipeline.out, tmp_path / "out")
    report = run_cli("energy", out, "-o", run_dir, "--no-plots", "--force")
    assert report.returncode == 0, report.stderr


@pytest.mark.parametrize("exc, code, line", [
    (MemoryError(), 1, "error: out of memory: an array did not fit; use --limit or a smaller batch"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB\n(details)"), 1,
     "error: CUDA out of memory. Tried to allocate 2 GiB"),
    (PermissionError(13, "Permission denied", "/data/out"), 1, "error: /data/out: Permission denied"),
    (OSError(40, "Too many levels of symbolic links", "loop"), 1, "error: loop: Too many levels of symbolic links"),
    ("usage", 2, "error: --limit must be positive"),
    ("format", 1, "error: f.h5: not an activity file"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_main_maps_every_error_to_one_line_and_its_status(monkeypatch, capsys, exc, code, line):
    """In-process: main() around a command that raises (the statuses the subprocess tests cannot provoke)."""
    from snn_deploy import cli
    from snn_deploy.errors import FormatError, UsageError

    exc = {"usage": UsageError("--limit must be positive"), "format": FormatError("f.h5: not an activity file")}.get(
        exc, exc)

    def failing(_args):
        raise exc

    monkeypatch.setattr("snn_deploy.energy.cli.cmd_energy", failing)
    try:
        assert cli.main(["energy", "run"]) == code
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # main ignores a second Ctrl-C after the first
    assert capsys.readouterr().err.splitlines() == [line]

"""Helpers of the robustness suite: run the CLI as a user does, check its one-line errors, digest files."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TINY_TRAIN = ["--model", "lif", "--layers", "2", "--hidden", "8", "--time-steps", "10", "--batch-size", "16",
              "--epochs", "1"]
CLI_TIMEOUT_S = 180


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_cli(*args: str | os.PathLike, cwd: str | os.PathLike | None = None, env: dict | None = None,
            timeout: float = CLI_TIMEOUT_S, stdin: str | None = None) -> CliResult:
    """``snn-deploy ARGS`` in a child process (the interpreter running the tests)."""
    proc = subprocess.run([sys.executable, "-m", "snn_deploy", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env or cli_env(), input=stdin)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: CliResult, *needles: str, code: int = 1) -> str:
    """The command failed with ``code`` and said so in exactly one ``error: ...`` line naming every needle."""
    detail = f"exit {result.returncode}\nstdout: {result.stdout[-1500:]}\nstderr: {result.stderr[-3000:]}"
    assert result.returncode == code, detail
    assert "Traceback" not in result.stderr, detail
    errors = [line for line in result.error_lines if line.startswith("error:")]
    assert len(errors) == 1, detail
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}\n{detail}"
    return errors[0]


def digest_tree(root: str | os.PathLike) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (or of ``root`` itself if a file)."""
    root = Path(root)
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def copy_tree(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    shutil.copytree(src, dst)
    return Path(dst)


DRIVER = r"""
import contextlib, io, json, sys, traceback
from snn_deploy.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 99
    results.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


def run_many(*argvs) -> list[CliResult]:
    """``snn-deploy ARGV`` for every argv, in one child process (one torch import for all)."""
    argvs = [[str(a) for a in argv] for argv in argvs]
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(argvs)], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, env=cli_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [CliResult(r["code"], r["stdout"], r["stderr"]) for r in json.loads(proc.stdout.splitlines()[-1])]

"""Lava and torchaudio are extras: without them everything else works, and asking for them is one line
saying what to install.

The child process hides the package (``sys.modules['lava'] = None``, what Python does for a package that
is not there), so this holds on Python 3.10 with Lava installed as on newer Pythons without it.
"""
import subprocess
import sys

import pytest

from networks import seeded_network
from snn_deploy.ir import save_network

CHANNELS, CLASSES, STEPS = 40, 4, 20     # the conftest SHD set: 40 channels, 4 classes

HIDE_PACKAGE = "import sys; sys.modules[sys.argv.pop(1)] = None; from snn_deploy.cli import main; sys.exit(main(sys.argv[1:]))"


def run_without(package, *args):
    return subprocess.run([sys.executable, "-c", HIDE_PACKAGE, package, *map(str, args)], capture_output=True, text=True,
                          timeout=180)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("nolava") / "out"
    net = seeded_network("lif", inputs=CHANNELS, classes=CLASSES, hidden=8, time_steps=STEPS)
    net.meta["target"] = "loihi-sim"
    save_network(net, out / "network.h5")
    return out


@pytest.mark.parametrize("option, named", [
    ([], "target loihi-sim"),
    (["--backend", "lava"], "--backend lava"),
    (["--backend", "emulator", "--verify", "2"], "--verify"),
])
def test_lava_backend_without_lava_is_one_line_naming_the_extra(converted, shd_dir, option, named):
    proc = run_without("lava", "run", converted, "--data", shd_dir, "--limit", "2", "--no-progress", *option)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert named in lines[0] and "pip install 'snn-deploy[lava]'" in lines[0] and "Python 3.10" in lines[0]
    assert not (converted / "activity.h5").exists()


def test_emulator_runs_without_lava(converted, shd_dir, tmp_path):
    proc = run_without("lava", "run", converted, "--data", shd_dir, "--limit", "3", "--no-progress",
                            "--backend", "emulator", "--output", tmp_path / "emu")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "emu" / "activity.h5").is_file() and "accuracy" in proc.stdout


def test_filterbank_features_without_torchaudio_is_one_line_naming_the_extra(tmp_path):
    code = ("import sys; sys.modules['torchaudio'] = None\n"
            "import numpy as np\n"
            "from snn_deploy.errors import SnnDeployError\n"
            "from snn_deploy.train.data.features import log_mel\n"
            "try:\n    log_mel(np.zeros(16000, np.float32), 16000)\n"
            "except SnnDeployError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pip install 'snn-deploy[audio]'" in proc.stdout

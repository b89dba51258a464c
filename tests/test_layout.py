"""The architecture's one-way data flow, checked on the source: train -> convert -> deploy -> energy.

No stage imports a later one; only deploy/ imports Lava; train/ runs where Lava cannot be installed
(GPU images with another Python), so importing it must not need Lava at all.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["train", "convert", "deploy", "energy"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level >= 2 and path.parent.parent == ROOT:
            names.add(f"snn_deploy.{node.module}")       # `from ..deploy import x` inside a stage folder
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_imports_a_later_stage_and_only_deploy_imports_lava(stage):
    later = STAGES[STAGES.index(stage) + 1:]
    offenders = []
    for path in sorted((ROOT / stage).rglob("*.py")):
        for mod in imported_modules(path):
            if any(mod == f"snn_deploy.{s}" or mod.startswith(f"snn_deploy.{s}.") for s in later):
                offenders.append(f"{path.relative_to(ROOT)} imports {mod}")
            if stage != "deploy" and (mod == "lava" or mod.startswith("lava.")):
                offenders.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not offenders, offenders


def test_train_imports_and_its_cli_parses_without_lava():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'lava' or name.startswith('lava.'):\n"
        "            raise ImportError('lava is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import snn_deploy.train.models, snn_deploy.train.trainer, snn_deploy.train.loop, snn_deploy.train.export, snn_deploy.train.data\n"
        "from snn_deploy.cli import build_parser\n"
        "build_parser().parse_args(['train', '--data', 'd', '-o', 'o', '--model', 'radlif'])\n"
        "print('ok', any(m.startswith('lava') for m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok False"


@pytest.mark.skipif(not os.environ.get("SNN_DEPLOY_EXPECT_INSTALLED"),
                    reason="only in CI's installed-wheel leg (scripts/test-installed-wheel.sh)")
def test_installed_leg_tests_the_installed_wheel_not_the_checkout():
    import snn_deploy
    import snn_deploy.convert.profiles as profiles

    for module in (snn_deploy, profiles):
        assert not Path(module.__file__).resolve().is_relative_to(ROOT), module.__file__
    assert len(profiles.list_profiles()) >= 6 and not profiles.bundled_profile_dir().is_relative_to(ROOT)

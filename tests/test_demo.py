"""`make demo` on a tiny configuration: every stage runs, the summary is what the report files say,
and a re-run redoes nothing."""
import json
import subprocess
import sys

import pytest

from snn_deploy.demo import PROFILES

pytestmark = [pytest.mark.slow, pytest.mark.lava]    # the demo runs a Lava stage


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.run([sys.executable, "-m", "snn_deploy.demo", "--tiny", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def test_summary_numbers_are_the_report_files_numbers(demo_out):
    out, stdout = demo_out
    summary = json.loads((out / "summary.json").read_text())
    train = json.loads((out / "radlif" / "summary.json").read_text())
    emu = json.loads((out / "radlif" / "loihi" / "run.json").read_text())
    lava = json.loads((out / "radlif" / "loihi" / "lava" / "run.json").read_text())
    energy = json.loads((out / "energy" / "energy.json").read_text())

    assert summary["float_test_accuracy"] == train["test_acc"]
    assert summary["emulator_test_accuracy"] == emu["accuracy"] and emu["backend"] == "emulator"
    assert lava["backend"] == "lava" and lava["verification"]["identical"] is True
    assert summary["lava_equals_emulator"] is True
    for p in PROFILES:
        e = energy["runs"][0]["energy"][p]
        assert summary["energy"][p]["snn_uj"] == [e["total"]["min_pj"] / 1e6, e["total"]["max_pj"] / 1e6]
        assert summary["energy"][p]["snn_compute_uj"] == [e["compute"]["min_pj"] / 1e6, e["compute"]["max_pj"] / 1e6]
        assert e["total"]["max_pj"] > 0
        assert summary["energy"][p]["gru_over_snn"] == energy["ratios"][0]["energy"][p]["cmos45nm-int32"]
        assert summary["energy"][p]["gru_over_snn_compute"] == energy["ratios"][0]["energy_compute_only"][p]["cmos45nm-int32"]
    # the memory term is on by default: both headlines, on the arithmetic profile they differ
    assert energy["memory_term"] is True and summary["energy"]["cmos45nm-int32"]["memory_included"] is True
    assert summary["energy"]["cmos45nm-int32"]["snn_uj"][0] > summary["energy"]["cmos45nm-int32"]["snn_compute_uj"][0]
    assert "compute only" in stdout and "with memory" in stdout and "dominates" in stdout
    md = (out / "energy" / "energy.md").read_text()
    assert "| compute only | compute + memory | dominated by |" in md and "## References" in md
    assert summary["gru_ops_over_snn_ops"] == energy["ratios"][0]["ops"]
    # the printed five-line summary carries the same numbers
    assert f"{100 * train['test_acc']:.2f}%" in stdout
    assert f"{100 * emu['accuracy']:.2f}%" in stdout
    assert "Lava == emulator : yes" in stdout


def test_rerun_redoes_no_finished_stage(demo_out):
    out, _ = demo_out
    watched = [out / "data" / "train.h5", out / "radlif" / "model.pt", out / "radlif" / "loihi" / "network.h5",
               out / "energy" / "energy.json"]
    before = {p: p.stat().st_mtime_ns for p in watched}
    proc = subprocess.run([sys.executable, "-m", "snn_deploy.demo", "--tiny", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("up to date") == 7
    assert {p: p.stat().st_mtime_ns for p in watched} == before

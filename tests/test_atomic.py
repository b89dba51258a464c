"""Atomic outputs: complete or absent, and readable like any other file the user writes."""
import os
import stat

import pytest

from snn_deploy.atomic import atomic_path, write_text_atomic
from snn_deploy.outdir import output_dir


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_files_and_dirs_get_the_umask_permissions_not_mkstemps_0600(tmp_path, umask_022):
    write_text_atomic(tmp_path / "a.json", "{}")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    with output_dir(tmp_path / "out", "test") as out, out.staging() as d:
        (d / "x").write_text("1")
        (d / "sub").mkdir()
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "x").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "sub").stat().st_mode) == 0o755


def test_a_failure_leaves_the_old_content_and_no_temporary(tmp_path):
    write_text_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(RuntimeError):
        with output_dir(tmp_path / "d", "test") as out, out.staging() as d:
            (d / "x").write_text("half")
            raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # not even the directory it created


def test_a_set_replaces_its_own_files_only(tmp_path):
    from snn_deploy.errors import SnnDeployError

    out = tmp_path / "out"
    with output_dir(out, "test") as o, o.staging() as d:
        (d / "a").write_text("1")
        (d / "b").write_text("1")
        (d / "sub").mkdir()
        (d / "sub" / "f").write_text("1")
    (out / "notes").write_text("mine")
    with output_dir(out, "test") as o, o.staging() as d:  # the new set has no b, and sub holds g
        (d / "a").write_text("2")
        (d / "sub").mkdir()
        (d / "sub" / "g").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [".snn-deploy-test.json", "a", "notes", "sub"]
    assert (out / "a").read_text() == "2" and [p.name for p in (out / "sub").iterdir()] == ["g"]
    assert (out / "notes").read_text() == "mine"

    (out / "c").write_text("foreign")
    with pytest.raises(SnnDeployError, match="c: exists and was not written by snn-deploy test"):
        with output_dir(out, "test") as o, o.staging() as d:
            (d / "a").write_text("3")
            (d / "c").write_text("3")
    assert (out / "c").read_text() == "foreign" and (out / "a").read_text() == "2"
    with pytest.raises(SnnDeployError, match="not written by snn-deploy other"):
        with output_dir(out, "other"):
            pass
    with output_dir(out, "test", force=True) as o, o.staging() as d:
        (d / "c").write_text("4")
    assert (out / "c").read_text() == "4" and (out / "notes").read_text() == "mine"
    assert not [p.name for p in out.iterdir() if p.name.endswith((".tmp", ".new", ".old", ".lock"))]


@pytest.mark.parametrize("planted_in", ["committed", "journal"])
def test_a_manifest_naming_paths_outside_its_directory_is_refused_and_nothing_moves(tmp_path, planted_in):
    """A manifest is a file anyone may have put there: names like ../x or /abs must never be removed (the
    committed manifest's names) or moved in (the journal's)."""
    import json

    from snn_deploy.errors import SnnDeployError
    from snn_deploy.outdir import settle

    victim_dir, victim_file = tmp_path / "victim", tmp_path / "victim2"
    victim_dir.mkdir()
    (victim_dir / "keep.txt").write_text("mine")
    victim_file.write_text("mine too")
    out = tmp_path / "out"
    out.mkdir()
    planted = json.dumps({"files": {str(victim_dir): "x", "../victim2": "x"}})
    empty = json.dumps({"files": {}})
    (out / ".snn-deploy-foo.json").write_text(planted if planted_in == "committed" else empty)
    journal = out / ".snn-deploy-foo.new"
    journal.mkdir()
    (journal / ".snn-deploy-foo.json").write_text(planted if planted_in == "journal" else empty)
    with pytest.raises(SnnDeployError, match="not a file of this directory"):
        settle(out, "run")
    assert (victim_dir / "keep.txt").read_text() == "mine" and victim_file.read_text() == "mine too"

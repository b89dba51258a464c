"""Atomic outputs: complete or absent, and readable like any other file the user writes."""
import os
import stat

import pytest

from snn_deploy.atomic import atomic_dir, atomic_path, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_files_and_dirs_get_the_umask_permissions_not_mkstemps_0600(tmp_path, umask_022):
    write_text_atomic(tmp_path / "a.json", "{}")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    with atomic_dir(tmp_path / "out") as d:
        (d / "x").write_text("1")
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_a_failure_leaves_the_old_content_and_no_temporary(tmp_path):
    write_text_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as d:
            (d / "x").write_text("half")
            raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]

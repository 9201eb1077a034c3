"""Atomic writes: all-or-nothing, and the user's umask on what they leave."""
import os
import stat

import pytest

from nerbert_spacy.util import atomic_dir, atomic_path, write_json_atomic, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o022
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_file_gets_umask_mode_not_0600(tmp_path, umask_022):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    write_text_atomic(tmp_path / "b.txt", "hello")
    assert _mode(tmp_path / "a.json") == 0o644
    assert _mode(tmp_path / "b.txt") == 0o644
    os.umask(0o077)
    write_text_atomic(tmp_path / "c.txt", "private")
    assert _mode(tmp_path / "c.txt") == 0o600


def test_atomic_path_failure_keeps_previous_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_swaps_in_complete_folder_with_umask(tmp_path, umask_022):
    out = tmp_path / "result"
    out.mkdir()
    (out / "stale.txt").write_text("old run")
    with atomic_dir(out) as tmp:
        (tmp / "new.txt").write_text("new run")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert _mode(out) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


def test_atomic_dir_failure_leaves_previous_folder_untouched(tmp_path):
    out = tmp_path / "result"
    out.mkdir()
    (out / "a.spacy").write_text("complete old result")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(out) as tmp:
            (tmp / "a.spacy").write_text("partial")
            raise KeyboardInterrupt
    assert (out / "a.spacy").read_text() == "complete old result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]

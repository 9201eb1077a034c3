"""Small helpers shared across the package (atomic writes, seeded RNGs)."""
import contextlib
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Union

import srsly


def _umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """Mode a plain ``open(..., "w")`` would give a new file: 0o666 minus the umask."""
    return 0o666 & ~_umask()


def default_dir_mode() -> int:
    """Mode ``mkdir`` would give a new folder: 0o777 minus the umask."""
    return 0o777 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    An interrupted writer leaves only a ``.tmp-*`` file that no reader trusts.
    The file gets the mode a plain ``open()`` would give it (the user's umask),
    not ``mkstemp``'s 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=str(path.parent))
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, default_file_mode())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: Union[str, Path]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; swap it in for ``path`` on success.

    Everything a step writes goes into the temporary folder; only when the block
    ends without an error does it replace ``path`` (an existing ``path`` is moved
    aside first and removed after the swap). A failure or an interrupt leaves
    the previous ``path`` untouched and removes the partial folder. The folder
    gets the user's umask, not ``mkdtemp``'s 0700.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}.", dir=str(path.parent)))
    os.chmod(tmp, default_dir_mode())
    try:
        yield tmp
        old = None
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".old-{path.name}.", dir=str(path.parent)))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json_atomic(path: Union[str, Path], data, indent: int = 2) -> None:
    """Write ``data`` as JSON (keys in insertion order) atomically."""
    with atomic_path(path) as tmp:
        srsly.write_json(tmp, data, indent=indent)


def write_text_atomic(path: Union[str, Path], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf8")


def make_rng(seed: int, *salt: Union[str, int]) -> random.Random:
    """A ``random.Random`` seeded from ``seed`` and any salt (shard name, ...).

    Uses a stable string key, so results do not depend on PYTHONHASHSEED.
    """
    key = "|".join([str(seed), *map(str, salt)])
    return random.Random(key)

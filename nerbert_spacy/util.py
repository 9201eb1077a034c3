"""Small helpers shared across the package (atomic writes, seeded RNGs)."""
import contextlib
import os
import random
import tempfile
from pathlib import Path
from typing import Iterator, Union

import srsly


@contextlib.contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    An interrupted writer leaves only a ``.tmp-*`` file that no reader trusts.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=str(path.parent))
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


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

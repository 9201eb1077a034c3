"""An on-disk cache for work that depends only on input files: the parsed DBpedia Ontology and
the instance-types part of the type index. Both cost seconds (the full DBpedia types: minutes)
on every corpus build although their inputs rarely change.

Entries live under ``$NERBERT_CACHE_DIR`` (default ``$XDG_CACHE_HOME/nerbert_spacy``, else
``~/.cache/nerbert_spacy``), one sub-folder per kind; ``NERBERT_CACHE_DIR=off`` turns the
cache off. An entry's name is a digest of its inputs (:func:`file_key`), so a changed input
file gets a new entry and never a stale one. The cache is an optimisation only: an entry that
cannot be read is rebuilt, and a cache folder that cannot be written is skipped (the result is
then computed as if there were no cache).
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from .about import __version__

__all__ = ["CACHE_ENV", "cache_dir", "file_key", "update_hash"]

CACHE_ENV = "NERBERT_CACHE_DIR"
_OFF = {"off", "none", "0", "false", "no"}
# a file up to this size is keyed by its content, a larger one by (path, size, mtime)
CONTENT_KEY_MAX_BYTES = 256 * 1024 * 1024


def cache_dir(kind: str) -> Optional[Path]:
    """The folder for one kind of entry, created if needed.

    kind (str): e.g. ``"ontology"`` or ``"type-index"``.
    RETURNS (Optional[Path]): The folder, or None when the cache is off or cannot be created.
    """
    root = os.environ.get(CACHE_ENV)
    if root is not None and root.strip().lower() in _OFF | {""}:
        return None
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "nerbert_spacy")
    path = Path(root) / kind
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None


def update_hash(h: Any, path: Union[str, Path]) -> Any:
    """Feed a file's bytes to a ``hashlib`` object in 1 MB blocks. RETURNS (Any): ``h``."""
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h


def _file_identity(path: Union[str, Path]) -> Any:
    p = Path(path).resolve()
    st = p.stat()
    if st.st_size <= CONTENT_KEY_MAX_BYTES:
        return ["sha1", update_hash(hashlib.sha1(), p).hexdigest()]
    return ["stat", str(p), st.st_size, st.st_mtime_ns]


def file_key(kind: str, files: Iterable[Union[str, Path]], *extra: Any) -> str:
    """A digest naming a cache entry computed from these files.

    kind (str): What the entry is, with its format version (e.g. ``"ontology.v1"``).
    files (Iterable[str | Path]): The input files, in the order they are used. A file up to
        256 MB counts by its content, a larger one by its resolved path, size and mtime.
    extra: Other inputs (JSON-serialisable) the entry depends on.
    RETURNS (str): 32 hex digits.
    """
    data = [kind, __version__, [_file_identity(f) for f in files], list(extra)]
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode("utf8")).hexdigest()[:32]

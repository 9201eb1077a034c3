"""One exception type for every expected failure (bad input, wrong path, ...).

Library code raises :class:`NerbertError` with one clear sentence that names
the file (and page title or line number where it applies) and what is wrong.
The CLI turns it into a one-line message and a non-zero exit code, so users
never see a bare traceback for a problem in their own input.
"""
from pathlib import Path
from typing import Optional, Union


class NerbertError(Exception):
    """An expected, user-facing failure with a one-sentence explanation."""

    def __init__(
        self,
        message: str,
        path: Optional[Union[str, Path]] = None,
        where: Optional[str] = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.where = where
        prefix = ""
        if self.path is not None:
            prefix = f"{self.path}"
            if where:
                prefix += f" ({where})"
            prefix += ": "
        super().__init__(prefix + message)


def require_file(path: Union[str, Path], what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise NerbertError if it is not a file.

    path (str | Path): The path to check.
    what (str): What the file is, for the message ("Wikipedia dump", ...).
    RETURNS (Path): The path.
    """
    return _require(path, what, "file", Path.is_file)


def require_dir(path: Union[str, Path], what: str = "directory") -> Path:
    """Return ``path`` as a Path, or raise NerbertError if it is not a directory."""
    return _require(path, what, "directory", Path.is_dir)


def _require(path: Union[str, Path], what: str, kind: str, check) -> Path:
    p = Path(path)
    if not p.exists():
        raise NerbertError(f"{what} not found", p)
    if not check(p):
        raise NerbertError(f"{what} is not a {kind}", p)
    return p

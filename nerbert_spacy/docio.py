"""The one place that reads and writes DocBins and loads pipelines.

Every failure is a :class:`~nerbert_spacy.errors.NerbertError` naming the file
and what is wrong (a missing path, a folder without ``.spacy`` files, a
truncated or corrupt DocBin, a pipeline whose weights file is cut short), so
callers never wrap spaCy's exceptions by hand and users never see a
traceback for their own files.
"""
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, List, Optional, Tuple, Union

from .errors import NerbertError

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

PathLike = Union[str, Path]


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def load_pipeline(name: Union[PathLike, "Language"], *, what: str = "pipeline", **kwargs: Any) -> "Language":
    """``spacy.load(name, **kwargs)`` with one clear error.

    name (str | Path | Language): A saved pipeline folder or an installed
        package name (a loaded ``Language`` is returned as it is).
    what (str): What the pipeline is, for the message ("pretrained pipeline", ...).
    **kwargs: Passed to ``spacy.load`` (``config=``, ``exclude=``, ...).
    RETURNS (Language): The pipeline.
    """
    import spacy
    from spacy.language import Language

    if isinstance(name, Language):
        return name
    path = Path(name)
    if path.exists():
        if not path.is_dir() or not (path / "config.cfg").is_file():
            raise NerbertError(f"not a saved spaCy {what} (no config.cfg)", path)
    elif not spacy.util.is_package(str(name)):
        raise NerbertError(f"{what} not found (neither a folder nor an installed package)", path)
    try:
        return spacy.load(name, **kwargs)
    except Exception as err:  # noqa: BLE001 - any failure to load is one line naming the pipeline
        raise NerbertError(
            f"cannot load the {what} ({_first_line(err)}); is a file of it truncated or from another version?", path
        ) from None


def docbin_paths(path: PathLike, what: str = "DocBin") -> List[Path]:
    """``path`` itself (a ``.spacy`` file) or the ``.spacy`` files of a folder, sorted.

    RETURNS (List[Path]): At least one file; NerbertError otherwise.
    """
    p = Path(path)
    if not p.exists():
        raise NerbertError(f"{what} not found", p)
    if p.is_dir():
        files = sorted(f for f in p.glob("*.spacy") if f.is_file())
        if not files:
            raise NerbertError(f"folder holds no .spacy files ({what} expected)", p)
        return files
    return [p]


def read_docbin(path: PathLike, *, store_user_data: bool = True, what: str = "DocBin") -> "DocBin":
    """Read one ``.spacy`` file.

    RETURNS (DocBin): The DocBin; NerbertError naming the file when it is missing or unreadable.
    """
    from spacy.tokens import DocBin

    p = Path(path)
    if not p.is_file():
        raise NerbertError(f"{what} not found" if not p.exists() else f"{what} is not a file", p)
    try:
        return DocBin(store_user_data=store_user_data).from_disk(p)
    except Exception as err:  # noqa: BLE001 - truncated, corrupt or not a DocBin at all
        raise NerbertError(f"is not a readable spaCy DocBin ({_first_line(err)})", p) from None


def iter_docs(path: PathLike, vocab: Optional["Vocab"] = None, *, what: str = "DocBin") -> Iterator["Doc"]:
    """The docs of a ``.spacy`` file or of every ``.spacy`` file in a folder, in order."""
    from spacy.vocab import Vocab

    vocab = vocab if vocab is not None else Vocab()
    for p in docbin_paths(path, what):
        db = read_docbin(p, what=what)
        try:
            docs = list(db.get_docs(vocab))
        except Exception as err:  # noqa: BLE001
            raise NerbertError(f"is not a readable spaCy DocBin ({_first_line(err)})", p) from None
        yield from docs


def read_docs(path: PathLike, vocab: Optional["Vocab"] = None, *, what: str = "DocBin") -> List["Doc"]:
    """All docs of :func:`iter_docs` as a list."""
    return list(iter_docs(path, vocab, what=what))


def count_docs(path: PathLike, what: str = "DocBin") -> int:
    """Number of docs in a ``.spacy`` file or folder (reads only the DocBin headers' lengths)."""
    return sum(len(read_docbin(p, what=what)) for p in docbin_paths(path, what))


def write_docbin(docs: Iterable["Doc"], path: PathLike, *, store_user_data: bool = True) -> int:
    """Write ``docs`` as one ``.spacy`` file, atomically (see :func:`nerbert_spacy.util.atomic_path`).

    RETURNS (int): The number of docs written.
    """
    from spacy.tokens import DocBin

    from .util import atomic_path

    db = DocBin(store_user_data=store_user_data)
    n = 0
    for doc in docs:
        db.add(doc)
        n += 1
    with atomic_path(path) as tmp:
        db.to_disk(tmp)
    return n


def iter_jsonl(path: PathLike) -> Iterator[Tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    Raises NerbertError naming the file and line for a line that is not JSON.
    """
    import json

    path = Path(path)
    with path.open("r", encoding="utf8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as err:
                raise NerbertError(f"invalid JSON ({err.msg} at column {err.colno})", path, f"line {n}") from None

"""Annotation-tool round trip: export Docs to Prodigy, Label Studio, Doccano,
BRAT and CoNLL, and import those tools' files back into DocBins.

Each format module has ``write(docs, path, **opts) -> stats`` and
``read(path, nlp_or_vocab, **opts) -> (docs, report)``; :data:`FORMATS` maps
format names to them. :func:`export_docs` and :func:`import_docs` are what the
``nerbert export`` / ``nerbert import`` commands call.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ..errors import NerbertError
from . import brat, conll, doccano, labelstudio, prodigy
from .base import ImportReport, all_spans


@dataclass(frozen=True)
class Format:
    name: str
    write: Callable[..., Dict[str, int]]
    read: Callable[..., Tuple[list, ImportReport]]
    suffix: str  # default output suffix ("" = a folder)
    description: str


FORMATS: Dict[str, Format] = {
    m.NAME: Format(m.NAME, m.write, m.read, m.SUFFIX, (m.__doc__ or "").strip().splitlines()[0])
    for m in (prodigy, labelstudio, doccano, brat, conll)
}


def get_format(name: str) -> Format:
    """The :class:`Format` called ``name``; NerbertError for an unknown one."""
    try:
        return FORMATS[name]
    except KeyError:
        raise NerbertError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}") from None


def _docbin_paths(path: Path) -> List[Path]:
    if path.is_dir():
        paths = sorted(path.rglob("*.spacy"))
        if not paths:
            raise NerbertError("folder holds no .spacy files", path)
        return paths
    return [path]


def read_texts(path: Union[str, Path], text_unit: str = "line") -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yield ``(text, meta)`` from a ``.txt`` (one doc per line or per blank-line
    paragraph) or a ``.jsonl`` of ``{"text": ..., ...}`` (other keys become meta).

    path (str | Path): The file.
    text_unit (str): For ``.txt``: ``"line"`` or ``"paragraph"``.
    """
    from .base import iter_jsonl

    path = Path(path)
    if path.suffix == ".jsonl":
        for n, rec in iter_jsonl(path):
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise NerbertError("expected an object with a string 'text'", path, f"line {n}")
            yield rec["text"], {k: v for k, v in rec.items() if k != "text"}
        return
    if text_unit not in ("line", "paragraph"):
        raise NerbertError(f"text unit must be 'line' or 'paragraph', not {text_unit!r}")
    text = path.read_text(encoding="utf8")
    if text_unit == "line":
        chunks = text.splitlines()
    else:
        import re

        chunks = re.split(r"\n[ \t]*\n", text)
    for chunk in chunks:
        if chunk.strip():
            yield chunk.strip("\n"), {}


def load_docs(
    input_path: Union[str, Path],
    *,
    model: Optional[Union[str, Path]] = None,
    nlp=None,
    lang: str = "en",
    text_unit: str = "line",
    batch_size: int = 32,
) -> Iterator:
    """Docs to export: a DocBin (or a folder of them) as stored, or run through a pipeline.

    input_path (str | Path): ``.spacy`` file or folder; with a pipeline also
        ``.txt`` (one doc per line / paragraph) or ``.jsonl`` (``{"text": ...}``).
    model (Optional[str | Path]): Pipeline to load and run (name or path).
    nlp (Optional[Language]): An already loaded pipeline (instead of ``model``).
    lang (str): Language of the blank vocab for DocBins read without a pipeline.
    text_unit (str): ``"line"`` or ``"paragraph"`` for ``.txt`` input.
    YIELDS (Doc): The documents.
    """
    import spacy
    from spacy.tokens import DocBin

    path = Path(input_path)
    if not path.exists():
        raise NerbertError("input not found", path)
    if nlp is None and model is not None:
        try:
            nlp = spacy.load(model)
        except OSError as err:
            raise NerbertError(f"cannot load pipeline: {err}", model) from None
    if path.is_dir() or path.suffix == ".spacy":
        vocab_nlp = nlp or spacy.blank(lang)
        for p in _docbin_paths(path):
            try:
                docs = list(DocBin().from_disk(p).get_docs(vocab_nlp.vocab))
            except Exception as err:  # corrupt file: msgpack/zlib errors
                raise NerbertError(f"not a readable DocBin ({err})", p) from None
            if nlp is not None:
                yield from nlp.pipe(docs, batch_size=batch_size)
            else:
                yield from docs
        return
    if nlp is None:
        raise NerbertError("raw text or JSONL input needs a pipeline (--model) to label it", path)
    pairs = list(read_texts(path, text_unit))
    for doc, meta in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
        doc.user_data.update(meta)
        yield doc


def export_docs(
    input_path: Union[str, Path],
    fmt: str,
    output: Union[str, Path],
    *,
    model: Optional[Union[str, Path]] = None,
    nlp=None,
    spans_key: Optional[str] = None,
    lang: str = "en",
    text_unit: str = "line",
    **opts,
) -> Dict[str, int]:
    """Export the docs of ``input_path`` (see :func:`load_docs`) to ``fmt`` at ``output``.

    RETURNS (Dict[str, int]): The writer's stats (``docs``, ``spans``, ...).
    """
    f = get_format(fmt)
    docs = load_docs(input_path, model=model, nlp=nlp, lang=lang, text_unit=text_unit)
    return f.write(docs, output, spans_key=spans_key, **opts)


def import_docs(
    path: Union[str, Path],
    fmt: str,
    output: Union[str, Path],
    *,
    nlp=None,
    lang: str = "en",
    **opts,
) -> ImportReport:
    """Read an annotation tool's file with format ``fmt`` and write a DocBin to ``output``.

    The DocBin keeps ``doc.spans`` (overlaps) and ``doc.user_data`` (metadata).
    RETURNS (ImportReport): What was read and every span that was changed or left out.
    """
    from spacy.tokens import DocBin

    from ..util import atomic_path

    f = get_format(fmt)
    docs, report = f.read(path, nlp if nlp is not None else lang, **opts)
    db = DocBin(store_user_data=True, docs=docs)
    with atomic_path(output) as tmp:
        db.to_disk(tmp)
    return report


__all__ = [
    "FORMATS",
    "Format",
    "ImportReport",
    "all_spans",
    "export_docs",
    "get_format",
    "import_docs",
    "load_docs",
    "read_texts",
]

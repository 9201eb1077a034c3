"""Annotation-tool round trip: export Docs to Prodigy, Label Studio, Doccano,
BRAT and CoNLL, and import those tools' files back into DocBins.

Each format module has ``write(docs, path, **opts) -> stats`` and
``read(path, nlp_or_vocab, **opts) -> (docs, report)``; :data:`FORMATS` maps
format names to them. :func:`export_docs` and :func:`import_docs` are what the
``nerbert export`` / ``nerbert import`` commands call. Every exported span
carries its provenance (the labelling sources that proposed it); Prodigy and
Label Studio tasks can be ordered by the model's uncertainty and carry a task
score (:data:`~.base.ORDERS`).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from ..errors import NerbertError
from . import brat, conll, doccano, labelstudio, prodigy
from .base import (
    ORDERS,
    ImportReport,
    all_spans,
    check_output,
    corpus_labels,
    order_docs,
    pipeline_labels,
    span_provenance,
    uncertainty_score,
    writing,
)


@dataclass(frozen=True)
class Format:
    name: str
    write: Callable[..., Dict[str, int]]
    read: Callable[..., Tuple[list, ImportReport]]
    suffix: str  # default output suffix ("" = a folder)
    description: str
    label_config: bool = False  # writes a labelling config listing the label set (``labels=``)
    task_score: bool = False  # takes a task order and writes a task score (``order=``, ``model=``)


FORMATS: Dict[str, Format] = {
    m.NAME: Format(
        m.NAME,
        m.write,
        m.read,
        m.SUFFIX,
        (m.__doc__ or "").strip().splitlines()[0],
        getattr(m, "LABEL_CONFIG", False),
        getattr(m, "TASK_SCORE", False),
    )
    for m in (prodigy, labelstudio, doccano, brat, conll)
}


def get_format(name: str) -> Format:
    """The :class:`Format` called ``name``; NerbertError for an unknown one."""
    try:
        return FORMATS[name]
    except KeyError:
        raise NerbertError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}") from None


def load_pipeline(model: Union[str, Path]):
    """``spacy.load(model)``; a pipeline that cannot be loaded is a NerbertError naming it."""
    import spacy

    try:
        return spacy.load(model)
    except OSError as err:
        raise NerbertError(f"cannot load pipeline: {err}".splitlines()[0], model) from None


def _docbin_paths(path: Path) -> List[Path]:
    if path.is_dir():
        paths = sorted(path.rglob("*.spacy"))
        if not paths:
            raise NerbertError("folder holds no .spacy files", path)
        return paths
    return [path]


def pipeline_name(nlp) -> str:
    """``lang_name-version`` of a pipeline (as ``spacy package`` names it), for provenance."""
    meta = nlp.meta
    return f"{meta.get('lang', nlp.lang)}_{meta.get('name', 'pipeline')}-{meta.get('version', '0.0.0')}"


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
        nlp = load_pipeline(model)
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
    try:
        pairs = list(read_texts(path, text_unit))
    except OSError as err:
        raise NerbertError(f"cannot read the input ({err.strerror or err})", path) from None
    for doc, meta in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
        doc.user_data.update(meta)
        yield doc


def label_set_for(
    input_path: Union[str, Path], nlp=None, labels: Optional[Iterable[str]] = None
) -> Tuple[Optional[List[str]], str]:
    """The label set a labelling config should list, and where it came from.

    ``labels`` if given; else the pipeline's labels (:func:`~.base.pipeline_labels`);
    else the label set written beside a DocBin corpus (:func:`~.base.corpus_labels`);
    else None: the writers then list the labels found in the exported docs.

    input_path (str | Path): The export's input.
    nlp (Optional[Language]): The pipeline run over the input, if any.
    labels (Optional[Iterable[str]]): An explicit label set (wins).
    RETURNS (Tuple[Optional[List[str]], str]): The labels (or None) and their source:
        ``"the given labels"``, ``"the pipeline"``, a file path, or ``"the input's spans"``.
    """
    if labels is not None:
        given = sorted({str(x).strip() for x in labels if str(x).strip()})
        if not given:
            raise NerbertError("the given label set is empty")
        return given, "the given labels"
    if nlp is not None:
        found = pipeline_labels(nlp)
        if found:
            return found, "the pipeline"
    path = Path(input_path)
    if path.is_dir() or path.suffix == ".spacy":
        found, source = corpus_labels(path)
        if found and source is not None:
            return found, str(source)
    return None, "the input's spans"


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
    labels: Optional[Iterable[str]] = None,
    order: Optional[str] = None,
    **opts,
) -> Dict[str, Any]:
    """Export the docs of ``input_path`` (see :func:`load_docs`) to ``fmt`` at ``output``.

    The output is written atomically: an error or an interrupt leaves a previous
    ``output`` as it was. Formats with a labelling config (Label Studio, BRAT)
    list the whole label set in it (see :func:`label_set_for`).

    labels (Optional[Iterable[str]]): The label set for the labelling config
        (wins over the pipeline's and the corpus's); only for formats that write one.
    order (Optional[str]): ``"file"`` or ``"uncertainty"``: write each task's
        uncertainty score, and with ``"uncertainty"`` the least confident task
        first (:func:`~.base.order_docs`); only for formats with a task score.
    RETURNS (Dict[str, Any]): The writer's stats (``docs``, ``spans``, ...); with a
        labelling config also ``labels``, ``labels_not_in_set`` and ``label_source``.
    """
    f = get_format(fmt)
    if labels is not None and not f.label_config:
        names = ", ".join(n for n, x in FORMATS.items() if x.label_config)
        raise NerbertError(
            f"a label set is only used by the formats that write a labelling config ({names}), not {fmt}"
        )
    if order is not None and not f.task_score:
        names = ", ".join(n for n, x in FORMATS.items() if x.task_score)
        raise NerbertError(f"a task order is only written by the formats with a task score ({names}), not {fmt}")
    if order is not None and order not in ORDERS:
        raise NerbertError(f"unknown task order {order!r}; choose one of {', '.join(ORDERS)}")
    check_output(output, folder=not f.suffix)
    if nlp is None and model is not None:
        nlp = load_pipeline(model)
    if f.task_score:
        opts["order"] = order
        opts["model"] = pipeline_name(nlp) if nlp is not None else None
    source = None
    if f.label_config:
        labels, source = label_set_for(input_path, nlp, labels)
        opts["labels"] = labels
    docs = load_docs(input_path, nlp=nlp, lang=lang, text_unit=text_unit)
    with writing(output):
        stats: Dict[str, Any] = dict(f.write(docs, output, spans_key=spans_key, **opts))
    if source is not None:
        stats["label_source"] = source
    return stats


def import_docs(
    path: Union[str, Path],
    fmt: str,
    output: Union[str, Path],
    *,
    nlp=None,
    lang: str = "en",
    report_path: Optional[Union[str, Path]] = None,
    **opts,
) -> ImportReport:
    """Read an annotation tool's file with format ``fmt`` and write a DocBin to ``output``.

    The DocBin keeps ``doc.spans`` (overlaps) and ``doc.user_data`` (metadata).
    Input with no records at all is an error. The outputs are written atomically.

    report_path (Optional[str | Path]): Also write the full report here as JSON.
    RETURNS (ImportReport): What was read and every span that was changed or left out.
    """
    from spacy.tokens import DocBin

    from ..util import atomic_path, write_json_atomic

    f = get_format(fmt)
    check_output(output)
    if report_path is not None:
        check_output(report_path)
    docs, report = f.read(path, nlp if nlp is not None else lang, **opts)
    if report.records == 0:
        raise NerbertError(f"no {fmt} records found; nothing to import", path)
    db = DocBin(store_user_data=True, docs=docs)
    with writing(output), atomic_path(output) as tmp:
        db.to_disk(tmp)
    if report_path is not None:
        with writing(report_path):
            write_json_atomic(report_path, report.to_dict())
    return report


__all__ = [
    "FORMATS",
    "Format",
    "ImportReport",
    "ORDERS",
    "all_spans",
    "export_docs",
    "get_format",
    "import_docs",
    "label_set_for",
    "load_docs",
    "load_pipeline",
    "order_docs",
    "pipeline_name",
    "read_texts",
    "span_provenance",
    "uncertainty_score",
]

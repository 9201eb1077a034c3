"""Doccano JSONL (sequence labelling): one document per line.

Two shapes, both read and written: the classic ``{"text": ..., "label":
[[start, end, "LABEL"], ...]}`` and the newer export of projects with
relations, ``{"text": ..., "entities": [{"id", "label", "start_offset",
"end_offset"}], "relations": [...]}``. Other keys are kept as metadata
(``doc.user_data``) and written back.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, List

from spacy.tokens import Doc

from ..errors import NerbertError, require_file
from .base import INVALID, UNSUPPORTED, CharSpan, ImportReport, NlpSource, PathLike, ReadResult, RecordInput
from .base import export_spans, import_records, iter_jsonl, json_safe_user_data, write_jsonl

NAME = "doccano"
SUFFIX = ".jsonl"
SHAPES = ("label", "entities")
_RESERVED = {"text", "label", "labels", "entities", "relations", "id"}


def _check_shape(shape: str) -> None:
    if shape not in SHAPES:
        raise NerbertError(f"unknown Doccano shape {shape!r}; use one of {', '.join(SHAPES)}")


def doc_to_record(doc: Doc, spans_key=None, index: int = 0, shape: str = "label") -> Dict[str, Any]:
    _check_shape(shape)
    spans = export_spans(doc, spans_key)
    meta = json_safe_user_data(doc)
    rec: Dict[str, Any] = {"id": meta.get("id", index + 1), "text": doc.text}
    if shape == "label":
        rec["label"] = [[s.start, s.end, s.label] for s in spans]
    else:
        rec["entities"] = [
            {"id": j + 1, "label": s.label, "start_offset": s.start, "end_offset": s.end}
            for j, s in enumerate(spans)
        ]
        rec["relations"] = []
    for k, v in meta.items():
        if k not in _RESERVED:
            rec[k] = v
    return rec


def write(docs: Iterable[Doc], path: PathLike, *, spans_key=None, shape: str = "label") -> Dict[str, int]:
    """Write ``docs`` as Doccano JSONL.

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output ``.jsonl`` file (written atomically).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    shape (str): ``"label"`` (``[[start, end, label]]``) or ``"entities"`` (newer export).
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written.
    """
    _check_shape(shape)
    records = (doc_to_record(doc, spans_key, i, shape) for i, doc in enumerate(docs))
    return write_jsonl(records, path, lambda rec: len(rec.get("label", rec.get("entities", []))))


def record_spans(rec: Dict[str, Any], path: Path, line: int, report: ImportReport) -> List[CharSpan]:
    out = []
    if "entities" in rec:
        for j, ent in enumerate(rec.get("entities") or []):
            try:
                out.append(CharSpan(int(ent["start_offset"]), int(ent["end_offset"]), str(ent["label"])))
            except (KeyError, TypeError, ValueError):
                report.add(path, line, INVALID, f"entity {j} lacks start_offset/end_offset/label; skipped")
        if rec.get("relations"):
            report.add(path, line, UNSUPPORTED, f"{len(rec['relations'])} relations not imported")
    else:
        items = rec.get("label", rec.get("labels")) or []
        for j, item in enumerate(items):
            if isinstance(item, (list, tuple)) and len(item) == 3:
                try:
                    out.append(CharSpan(int(item[0]), int(item[1]), str(item[2])))
                    continue
                except (TypeError, ValueError):
                    pass
            report.add(path, line, INVALID, f"label {j} ({item!r}) is not [start, end, label]; skipped")
    return out


def _record_input(rec: Any, path: Path, line: int, report: ImportReport) -> RecordInput:
    if not isinstance(rec, dict) or not isinstance(rec.get("text", rec.get("data")), str):
        raise NerbertError("a Doccano record must be an object with a string 'text'", path, f"line {line}")
    text = rec["text"] if "text" in rec else rec["data"]
    meta = {k: v for k, v in rec.items() if k == "id" or (k not in _RESERVED and k != "data")}
    return RecordInput(text, record_spans(rec, path, line, report), user_data=meta)


def read(path: PathLike, nlp_or_vocab: NlpSource = None, *, snap: bool = False, spans_key=None) -> ReadResult:
    """Read Doccano JSONL (either shape) into Docs.

    path (str | Path): The ``.jsonl`` file.
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "Doccano JSONL file")
    return import_records(path, iter_jsonl(path), _record_input, nlp_or_vocab, snap=snap, spans_key=spans_key)

"""Doccano JSONL (sequence labelling): one document per line.

Two shapes, both read and written: the classic ``{"text": ..., "label":
[[start, end, "LABEL"], ...]}`` and the newer export of projects with
relations, ``{"text": ..., "entities": [{"id", "label", "start_offset",
"end_offset"}], "relations": [...]}``. Other keys are kept as metadata
(``doc.user_data``) and written back.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, List, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..errors import NerbertError, require_file
from ..util import atomic_path
from .base import INVALID, UNSUPPORTED, CharSpan, ImportReport, build_doc, export_spans, get_nlp, iter_jsonl, json_safe_user_data

NAME = "doccano"
SUFFIX = ".jsonl"
SHAPES = ("label", "entities")
_RESERVED = {"text", "label", "labels", "entities", "relations", "id"}


def doc_to_record(doc: Doc, spans_key=None, index: int = 0, shape: str = "label") -> Dict[str, Any]:
    spans = export_spans(doc, spans_key)
    meta = json_safe_user_data(doc)
    rec: Dict[str, Any] = {"id": meta.get("id", index + 1), "text": doc.text}
    if shape == "label":
        rec["label"] = [[s.start, s.end, s.label] for s in spans]
    elif shape == "entities":
        rec["entities"] = [
            {"id": j + 1, "label": s.label, "start_offset": s.start, "end_offset": s.end}
            for j, s in enumerate(spans)
        ]
        rec["relations"] = []
    else:
        raise NerbertError(f"unknown Doccano shape {shape!r}; use one of {', '.join(SHAPES)}")
    for k, v in meta.items():
        if k not in _RESERVED:
            rec[k] = v
    return rec


def write(docs: Iterable[Doc], path: Union[str, Path], *, spans_key=None, shape: str = "label") -> Dict[str, int]:
    """Write ``docs`` as Doccano JSONL.

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output ``.jsonl`` file (written atomically).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    shape (str): ``"label"`` (``[[start, end, label]]``) or ``"entities"`` (newer export).
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written.
    """
    if shape not in SHAPES:
        raise NerbertError(f"unknown Doccano shape {shape!r}; use one of {', '.join(SHAPES)}")
    n_docs = n_spans = 0
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf8") as f:
            for i, doc in enumerate(docs):
                rec = doc_to_record(doc, spans_key, i, shape)
                f.write(srsly.json_dumps(rec) + "\n")
                n_docs += 1
                n_spans += len(rec.get("label", rec.get("entities", [])))
    return {"docs": n_docs, "spans": n_spans}


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


def read(
    path: Union[str, Path],
    nlp_or_vocab: Union[Language, Vocab, str, None] = None,
    *,
    snap: bool = False,
    spans_key=None,
) -> Tuple[List[Doc], ImportReport]:
    """Read Doccano JSONL (either shape) into Docs.

    path (str | Path): The ``.jsonl`` file.
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "Doccano JSONL file")
    nlp = get_nlp(nlp_or_vocab)
    report = ImportReport()
    docs = []
    for line, rec in iter_jsonl(path):
        report.records += 1
        if not isinstance(rec, dict) or not isinstance(rec.get("text", rec.get("data")), str):
            raise NerbertError("a Doccano record must be an object with a string 'text'", path, f"line {line}")
        text = rec["text"] if "text" in rec else rec["data"]
        meta = {k: v for k, v in rec.items() if k == "id" or (k not in _RESERVED and k != "data")}
        docs.append(
            build_doc(
                nlp,
                text,
                record_spans(rec, path, line, report),
                file=path,
                record=line,
                report=report,
                snap=snap,
                spans_key=spans_key,
                user_data=meta,
            )
        )
    return docs, report

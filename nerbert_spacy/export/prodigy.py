"""Prodigy JSONL: one task per line with ``text``, ``tokens``, ``spans`` and ``meta``.

Written tasks load into ``ner.manual`` / ``ner.correct`` style recipes as
pre-annotations (``tokens`` carry ``start``/``end``/``id``/``ws``; ``spans``
carry character offsets, inclusive ``token_start``/``token_end`` and the label,
plus ``score`` and ``kb_id`` when known). Reading accepts the same shape and
Prodigy's ``db-out`` export: only ``answer == "accept"`` tasks become docs;
rejected and ignored ones are counted in the report.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from spacy.tokens import Doc

from ..errors import NerbertError, require_file
from .base import IGNORED, INVALID, REJECTED, CharSpan, ImportReport, NlpSource, PathLike, ReadResult, RecordInput
from .base import export_spans, import_records, iter_jsonl, json_safe_user_data, write_jsonl

NAME = "prodigy"
SUFFIX = ".jsonl"


def doc_to_task(doc: Doc, spans_key=None, index: int = 0) -> Dict[str, Any]:
    """One Prodigy task for ``doc`` (see module docstring)."""
    tokens = [
        {"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)}
        for t in doc
    ]
    spans = []
    for s in export_spans(doc, spans_key):
        d: Dict[str, Any] = {
            "start": s.start,
            "end": s.end,
            "token_start": s.token_start,
            "token_end": s.token_end - 1,
            "label": s.label,
        }
        if s.score is not None:
            d["score"] = round(s.score, 6)
        if s.kb_id:
            d["kb_id"] = s.kb_id
        spans.append(d)
    meta = json_safe_user_data(doc)
    meta.setdefault("doc_index", index)
    return {"text": doc.text, "tokens": tokens, "spans": spans, "meta": meta}


def write(docs: Iterable[Doc], path: PathLike, *, spans_key=None) -> Dict[str, int]:
    """Write ``docs`` as Prodigy JSONL tasks.

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output ``.jsonl`` file (written atomically).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written.
    """
    tasks = (doc_to_task(doc, spans_key, i) for i, doc in enumerate(docs))
    return write_jsonl(tasks, path, lambda task: len(task["spans"]))


def task_spans(task: Dict[str, Any], path: Path, line: int, report: ImportReport) -> List[CharSpan]:
    out = []
    tokens = task.get("tokens") or []
    for j, sp in enumerate(task.get("spans") or []):
        if not isinstance(sp, dict):
            report.add(path, line, INVALID, f"span {j} is not an object; skipped")
            continue
        start, end = sp.get("start"), sp.get("end")
        if (start is None or end is None) and "token_start" in sp and tokens:
            try:
                start = tokens[sp["token_start"]]["start"]
                end = tokens[sp["token_end"]]["end"]
            except (IndexError, KeyError, TypeError):
                pass
        if start is None or end is None:
            report.add(path, line, INVALID, f"span {j} has no character offsets; skipped")
            continue
        out.append(CharSpan(start, end, sp.get("label", ""), text=sp.get("text"), kb_id=sp.get("kb_id", "") or ""))
    return out


def _task_input(task: Any, path: Path, line: int, report: ImportReport) -> Optional[RecordInput]:
    if not isinstance(task, dict) or not isinstance(task.get("text"), str):
        raise NerbertError("a Prodigy task must be an object with a string 'text'", path, f"line {line}")
    answer = task.get("answer")
    if answer == "reject":
        report.add(path, line, REJECTED, "answer is 'reject'; task skipped")
        return None
    if answer == "ignore":
        report.add(path, line, IGNORED, "answer is 'ignore'; task skipped")
        return None
    if answer not in (None, "accept"):
        report.add(path, line, INVALID, f"unknown answer {answer!r}; task skipped")
        return None
    words = spaces = None
    tokens = task.get("tokens")
    if tokens:
        try:
            words = [t["text"] for t in tokens]
            spaces = [bool(t.get("ws", False)) for t in tokens]
        except (KeyError, TypeError):
            words = spaces = None
    meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
    meta = {k: v for k, v in meta.items() if k != "doc_index"}
    spans = task_spans(task, path, line, report)
    return RecordInput(task["text"], spans, user_data=meta, words=words, spaces=spaces)


def read(path: PathLike, nlp_or_vocab: NlpSource = None, *, snap: bool = False, spans_key=None) -> ReadResult:
    """Read Prodigy JSONL (tasks or ``db-out``) into Docs.

    path (str | Path): The ``.jsonl`` file.
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source (see ``get_nlp``);
        tasks with ``tokens`` keep Prodigy's tokenisation when it reproduces the text.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "Prodigy JSONL file")
    return import_records(path, iter_jsonl(path), _task_input, nlp_or_vocab, snap=snap, spans_key=spans_key)

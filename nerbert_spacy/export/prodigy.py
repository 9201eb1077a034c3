"""Prodigy JSONL: one task per line with ``text``, ``tokens``, ``spans`` and ``meta``.

Written tasks load into ``ner.manual`` / ``ner.correct`` style recipes as
pre-annotations (``tokens`` carry ``start``/``end``/``id``/``ws``; ``spans``
carry character offsets, inclusive ``token_start``/``token_end`` and the label,
plus ``score`` and ``kb_id`` when known). Reading accepts the same shape and
Prodigy's ``db-out`` export: only ``answer == "accept"`` tasks become docs;
rejected and ignored ones are counted in the report.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, List, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..errors import NerbertError, require_file
from ..util import atomic_path
from .base import (
    IGNORED,
    INVALID,
    REJECTED,
    CharSpan,
    ImportReport,
    build_doc,
    export_spans,
    get_nlp,
    iter_jsonl,
    json_safe_user_data,
)
import srsly

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


def write(docs: Iterable[Doc], path: Union[str, Path], *, spans_key=None) -> Dict[str, int]:
    """Write ``docs`` as Prodigy JSONL tasks.

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output ``.jsonl`` file (written atomically).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written.
    """
    n_docs = n_spans = 0
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf8") as f:
            for i, doc in enumerate(docs):
                task = doc_to_task(doc, spans_key, i)
                f.write(srsly.json_dumps(task) + "\n")
                n_docs += 1
                n_spans += len(task["spans"])
    return {"docs": n_docs, "spans": n_spans}


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


def read(
    path: Union[str, Path],
    nlp_or_vocab: Union[Language, Vocab, str, None] = None,
    *,
    snap: bool = False,
    spans_key=None,
) -> Tuple[List[Doc], ImportReport]:
    """Read Prodigy JSONL (tasks or ``db-out``) into Docs.

    path (str | Path): The ``.jsonl`` file.
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source (see ``get_nlp``);
        tasks with ``tokens`` keep Prodigy's tokenisation when it reproduces the text.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "Prodigy JSONL file")
    nlp = get_nlp(nlp_or_vocab)
    report = ImportReport()
    docs = []
    for line, task in iter_jsonl(path):
        report.records += 1
        if not isinstance(task, dict) or not isinstance(task.get("text"), str):
            raise NerbertError("a Prodigy task must be an object with a string 'text'", path, f"line {line}")
        answer = task.get("answer")
        if answer == "reject":
            report.add(path, line, REJECTED, "answer is 'reject'; task skipped")
            continue
        if answer == "ignore":
            report.add(path, line, IGNORED, "answer is 'ignore'; task skipped")
            continue
        if answer not in (None, "accept"):
            report.add(path, line, INVALID, f"unknown answer {answer!r}; task skipped")
            continue
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
        docs.append(
            build_doc(
                nlp,
                task["text"],
                task_spans(task, path, line, report),
                file=path,
                record=line,
                report=report,
                snap=snap,
                words=words,
                spaces=spaces,
                spans_key=spans_key,
                user_data=meta,
            )
        )
    return docs, report

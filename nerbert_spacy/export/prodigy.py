"""Prodigy JSONL: one task per line with ``text``, ``tokens``, ``spans`` and ``meta``.

Written tasks load into ``ner.manual`` / ``ner.correct`` style recipes as
pre-annotations (``tokens`` carry ``start``/``end``/``id``/``ws``; ``spans``
carry character offsets, inclusive ``token_start``/``token_end`` and the label,
plus ``score``, ``kb_id`` and ``provenance`` when known). With a task order
(``file`` or ``uncertainty``) each task's ``meta.score`` is its uncertainty
score (the least confident entity, else the smallest token margin) and
``meta.doc_index`` its place in the input. Reading accepts the same shape and
Prodigy's ``db-out`` export: only ``answer == "accept"`` tasks become docs;
rejected and ignored ones are counted in the report. Accepted tasks with the
same ``_input_hash`` (several annotators) are merged when identical and
reported as conflicts when not (policy: keep the first, both, or drop).
Span provenance is read back into the span groups it names; ``meta.score``
and ``meta.doc_index`` are not kept in ``doc.user_data``.
"""
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc

from ..errors import NerbertError, require_file
from .base import (
    CONFLICT,
    IGNORED,
    INVALID,
    MERGED_DUPLICATE,
    REJECTED,
    CharSpan,
    ImportReport,
    NlpSource,
    PathLike,
    ReadResult,
    RecordInput,
    export_spans,
    import_records,
    iter_jsonl,
    json_safe_user_data,
    order_docs,
    read_provenance,
    write_jsonl,
)

NAME = "prodigy"
SUFFIX = ".jsonl"
TASK_SCORE = True  # writes a task score (meta.score) and takes a task order
META_WRITTEN = ("doc_index", "score")  # meta keys the exporter writes and the importer drops
CONFLICT_POLICIES = ("first", "both", "drop")


def doc_to_task(
    doc: Doc, spans_key=None, index: int = 0, score: Optional[float] = None, model: Optional[str] = None
) -> Dict[str, Any]:
    """One Prodigy task for ``doc`` (see module docstring); ``score`` goes to ``meta.score``."""
    tokens = [
        {"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)}
        for t in doc
    ]
    spans = []
    for s in export_spans(doc, spans_key, model=model):
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
        if s.provenance:
            d["provenance"] = s.provenance
        spans.append(d)
    meta = json_safe_user_data(doc)
    meta.setdefault("doc_index", index)
    if score is not None:
        meta["score"] = round(score, 6)
    return {"text": doc.text, "tokens": tokens, "spans": spans, "meta": meta}


def write(
    docs: Iterable[Doc], path: PathLike, *, spans_key=None, order: Optional[str] = None, model: Optional[str] = None
) -> Dict[str, int]:
    """Write ``docs`` as Prodigy JSONL tasks.

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output ``.jsonl`` file (written atomically).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    order (Optional[str]): None (input order, no task score), ``"file"`` or
        ``"uncertainty"`` (see :func:`~.base.order_docs`).
    model (Optional[str]): Name of the pipeline, for the model spans' provenance.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written.
    """
    tasks = (doc_to_task(doc, spans_key, i, score, model) for i, doc, score in order_docs(docs, order, spans_key))
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
        provenance = read_provenance(sp.get("provenance"), path, line, f"span {j}", report)
        out.append(
            CharSpan(
                start, end, sp.get("label", ""), text=sp.get("text"), kb_id=sp.get("kb_id", "") or "", provenance=provenance
            )
        )
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
    meta = {k: v for k, v in meta.items() if k not in META_WRITTEN}
    spans = task_spans(task, path, line, report)
    return RecordInput(task["text"], spans, user_data=meta, words=words, spaces=spaces)


def _span_set(task: Dict[str, Any], path: Path, line: int) -> FrozenSet[Tuple[Any, Any, Any]]:
    # a throwaway report: the kept record's span issues are reported when it is read
    return frozenset((s.start, s.end, s.label) for s in task_spans(task, path, line, ImportReport()))


def _describe(spans: FrozenSet[Tuple[Any, Any, Any]]) -> str:
    return ", ".join(f"[{a}:{b}] {lab}" for a, b, lab in sorted(spans, key=str)) or "none"


def plan_conflicts(
    records: Sequence[Tuple[int, Any]], path: Path, policy: str = "first"
) -> Dict[int, Tuple[str, str, bool]]:
    """What to do with accepted records that share an ``_input_hash`` (the same
    input annotated more than once, e.g. by two annotators in ``db-out``).

    A record with the same spans as an earlier one is merged into it. When the
    versions differ, ``policy`` decides: ``"first"`` keeps the first version,
    ``"both"`` keeps every version (one doc each), ``"drop"`` keeps none.

    records (Sequence[Tuple[int, Any]]): ``(line, task)`` pairs.
    path (Path): The file (for span parsing).
    policy (str): ``"first"``, ``"both"`` or ``"drop"``.
    RETURNS (Dict[int, Tuple[str, str, bool]]): By line: report kind, message,
        and whether the record is skipped. Lines not listed are read as usual.
    """
    if policy not in CONFLICT_POLICIES:
        raise NerbertError(f"unknown conflict policy {policy!r}; choose one of {', '.join(CONFLICT_POLICIES)}")
    groups: Dict[str, List[int]] = {}
    tasks = dict(records)
    for line, task in records:
        if isinstance(task, dict) and task.get("answer") in (None, "accept") and "_input_hash" in task:
            groups.setdefault(repr(task["_input_hash"]), []).append(line)
    plan: Dict[int, Tuple[str, str, bool]] = {}
    for h, lines in groups.items():
        versions: Dict[FrozenSet[Tuple[Any, Any, Any]], int] = {}
        for line in lines:
            spans = _span_set(tasks[line], path, line)
            if spans in versions:
                message = f"same _input_hash and spans as line {versions[spans]}; merged into it"
                plan[line] = (MERGED_DUPLICATE, message, True)
            else:
                versions[spans] = line
        if len(versions) < 2:
            continue
        (first_spans, first), *others = versions.items()
        how = {"first": f"kept line {first}", "both": "kept every version", "drop": "dropped every version"}[policy]
        for spans, line in others:
            message = (
                f"spans differ from line {first} with the same _input_hash {h}: "
                f"{_describe(spans - first_spans)} instead of {_describe(first_spans - spans)}; "
                f"{how} (conflicts={policy})"
            )
            plan[line] = (CONFLICT, message, policy != "both")
        if policy == "drop":
            lines_other = ", ".join(str(line) for _, line in others)
            message = f"spans differ from line(s) {lines_other} with the same _input_hash {h}; {how} (conflicts=drop)"
            plan[first] = (CONFLICT, message, True)
    return plan


def read(
    path: PathLike, nlp_or_vocab: NlpSource = None, *, snap: bool = False, spans_key=None, conflicts: str = "first"
) -> ReadResult:
    """Read Prodigy JSONL (tasks or ``db-out``) into Docs.

    Accepted records with the same ``_input_hash`` (one input annotated several
    times) are checked against each other: identical ones are merged (reported
    as ``merged_duplicate``), differing ones are reported as ``conflict`` with
    both line numbers and resolved by ``conflicts`` (see :func:`plan_conflicts`).

    path (str | Path): The ``.jsonl`` file.
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source (see ``get_nlp``);
        tasks with ``tokens`` keep Prodigy's tokenisation when it reproduces the text.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    conflicts (str): ``"first"`` (default), ``"both"`` or ``"drop"``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "Prodigy JSONL file")
    records = list(iter_jsonl(path))
    plan = plan_conflicts(records, path, conflicts)

    def parse(task: Any, p: Path, line: int, report: ImportReport) -> Optional[RecordInput]:
        if line in plan:
            kind, message, skip = plan[line]
            report.add(p, line, kind, message)
            if skip:
                return None
        return _task_input(task, p, line, report)

    return import_records(path, records, parse, nlp_or_vocab, snap=snap, spans_key=spans_key)

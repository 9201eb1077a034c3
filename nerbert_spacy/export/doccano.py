"""Doccano JSONL (sequence labelling): one document per line.

Two shapes, both read and written: the classic ``{"text": ..., "label":
[[start, end, "LABEL"], ...]}`` and the newer export of projects with
relations, ``{"text": ..., "entities": [{"id", "label", "start_offset",
"end_offset"}], "relations": [...]}``. Doccano 1.0's ``{"text": ...,
"annotations": [{"label": 3, "start_offset", "end_offset", "user"}]}`` is read
too; its numeric label ids are named through a label mapping. Other keys are
kept as metadata (``doc.user_data``) and written back.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Union

from spacy.tokens import Doc

from ..errors import NerbertError, require_file
from .base import (
    INVALID,
    LABEL_IDS,
    MULTIPLE_ANNOTATORS,
    UNSUPPORTED,
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
    read_json,
    write_jsonl,
)

NAME = "doccano"
SUFFIX = ".jsonl"
SHAPES = ("label", "entities")
_RESERVED = {"text", "label", "labels", "entities", "annotations", "relations", "id"}


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


def read_label_map(source: Union[PathLike, Mapping[Any, Any], Sequence[Any]]) -> Dict[str, str]:
    """Doccano's label ids -> names, from a JSON ``{id: name}`` object or the
    label list Doccano exports (``[{"id": 3, "text": "PER", ...}, ...]``).

    source (str | Path | dict | list): The file, or its parsed content.
    RETURNS (Dict[str, str]): Label names by ``str(id)``.
    """
    where = None
    if isinstance(source, (str, Path)):
        where = require_file(source, "Doccano label mapping")
        source = read_json(where)
    if isinstance(source, Mapping):
        return {str(k): str(v) for k, v in source.items()}
    if isinstance(source, Sequence) and not isinstance(source, str):
        out = {}
        for j, item in enumerate(source):
            item = item if isinstance(item, dict) else {}
            name = next((item[k] for k in ("text", "name", "label") if k in item), None)
            if "id" not in item or not isinstance(name, str):
                raise NerbertError(f"label {j} of the Doccano label list has no 'id' and 'text'", where)
            out[str(item["id"])] = name
        return out
    raise NerbertError("a Doccano label mapping must be a JSON object {id: name} or Doccano's label list", where)


class _RecordReader:
    """Parses the records of one file; names numeric label ids through the
    mapping and reports each unnamed id once per file."""

    def __init__(self, label_map: Optional[Dict[str, str]]) -> None:
        self.label_map = label_map
        self.reported: Set[str] = set()

    def label(self, raw: Any, path: Path, line: int, report: ImportReport) -> str:
        name = str(raw)
        if self.label_map is not None and name in self.label_map:
            return self.label_map[name]
        if isinstance(raw, int) and not isinstance(raw, bool):
            if self.label_map is None and not self.reported:
                report.add(
                    path, line, LABEL_IDS,
                    f"labels are numeric ids (first: {name}); kept as their string form "
                    "(give the id -> name mapping: --doccano-labels / label_map)",
                )
            elif self.label_map is not None and name not in self.reported:
                report.add(path, line, LABEL_IDS, f"label id {name} is not in the label mapping; kept as {name!r}")
            self.reported.add(name)
        return name

    def offset_items(self, items: List[Any], key: str, path: Path, line: int, report: ImportReport) -> List[CharSpan]:
        """Spans of ``entities`` / ``annotations`` items (``label``, ``start_offset``, ``end_offset``)."""
        out = []
        for j, ent in enumerate(items):
            try:
                start, end, raw = int(ent["start_offset"]), int(ent["end_offset"]), ent["label"]
            except (KeyError, TypeError, ValueError):
                report.add(path, line, INVALID, f"{key} item {j} lacks start_offset/end_offset/label; skipped")
                continue
            out.append(CharSpan(start, end, self.label(raw, path, line, report)))
        users = sorted({str(ent["user"]) for ent in items if isinstance(ent, dict) and ent.get("user") is not None})
        if len(users) > 1:
            report.add(
                path, line, MULTIPLE_ANNOTATORS,
                f"annotations of {len(users)} users ({', '.join(users)}) merged; disagreements show as overlaps",
            )
        return out

    def label_items(self, items: List[Any], path: Path, line: int, report: ImportReport) -> List[CharSpan]:
        """Spans of the classic ``label`` list (``[start, end, label]`` items)."""
        out = []
        for j, item in enumerate(items):
            if isinstance(item, (list, tuple)) and len(item) == 3:
                try:
                    out.append(CharSpan(int(item[0]), int(item[1]), self.label(item[2], path, line, report)))
                    continue
                except (TypeError, ValueError):
                    pass
            report.add(path, line, INVALID, f"label {j} ({item!r}) is not [start, end, label]; skipped")
        return out

    def spans(self, rec: Dict[str, Any], path: Path, line: int, report: ImportReport) -> List[CharSpan]:
        key = next((k for k in ("entities", "annotations", "label", "labels") if k in rec), None)
        if key is None:
            return []
        items = rec[key] if rec[key] is not None else []
        if not isinstance(items, list):
            report.add(path, line, INVALID, f"{key!r} is {items!r}, not a list of spans; nothing taken")
            return []
        if key in ("entities", "annotations"):
            out = self.offset_items(items, key, path, line, report)
        else:
            out = self.label_items(items, path, line, report)
        if rec.get("relations"):
            report.add(path, line, UNSUPPORTED, f"{len(rec['relations'])} relations not imported")
        return out

    def __call__(self, rec: Any, path: Path, line: int, report: ImportReport) -> RecordInput:
        if not isinstance(rec, dict) or not isinstance(rec.get("text", rec.get("data")), str):
            raise NerbertError("a Doccano record must be an object with a string 'text'", path, f"line {line}")
        text = rec["text"] if "text" in rec else rec["data"]
        meta = {k: v for k, v in rec.items() if k == "id" or (k not in _RESERVED and k != "data")}
        return RecordInput(text, self.spans(rec, path, line, report), user_data=meta)


def read(
    path: PathLike,
    nlp_or_vocab: NlpSource = None,
    *,
    snap: bool = False,
    spans_key=None,
    label_map: Optional[Union[PathLike, Mapping[Any, Any], Sequence[Any]]] = None,
) -> ReadResult:
    """Read Doccano JSONL (any of the three shapes) into Docs.

    path (str | Path): The ``.jsonl`` file.
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    label_map (Optional[str | Path | dict | list]): Label ids -> names (see
        :func:`read_label_map`), for exports whose labels are ids (Doccano 1.0's
        ``annotations``). Without it, ids become their string form (reported once).
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "Doccano JSONL file")
    parse = _RecordReader(read_label_map(label_map) if label_map is not None else None)
    return import_records(path, iter_jsonl(path), parse, nlp_or_vocab, snap=snap, spans_key=spans_key)

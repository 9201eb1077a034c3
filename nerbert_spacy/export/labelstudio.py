"""Label Studio: tasks JSON with pre-annotations, the labelling config, and the export.

``write`` produces a JSON list of tasks (``data.text`` plus ``data.meta``) whose
``predictions`` hold one ``result`` item per span
(``{"from_name": "label", "to_name": "text", "type": "labels", "value":
{"start", "end", "text", "labels": [..]}}``, with its ``score`` and, in its
``meta``, ``kb_id`` and ``provenance``) and an overall prediction score (the
mean; with a task order, the task's uncertainty score: the least confident
entity, else the smallest token margin, so Label Studio can sort by it), and beside it the matching labelling config
(``<View><Labels name="label" toName="text">...</Labels><Text name="text"
value="$text"/></View>``). ``read`` takes Label Studio's JSON export (tasks with
``annotations[].result``): the latest annotation that was not cancelled wins;
tasks without one fall back to ``predictions`` only if asked. Span provenance
is read back into the span groups it names.
"""
from functools import partial
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union
from xml.sax.saxutils import quoteattr

from spacy.tokens import Doc

from ..errors import NerbertError, require_file
from ..util import write_json_atomic, write_text_atomic
from .base import (
    CANCELLED,
    FROM_PREDICTIONS,
    INVALID,
    NO_ANNOTATION,
    UNSUPPORTED,
    CharSpan,
    ImportReport,
    LabelSet,
    NlpSource,
    PathLike,
    ReadResult,
    RecordInput,
    check_output,
    export_spans,
    import_records,
    json_safe_user_data,
    order_docs,
    read_json,
    read_provenance,
)

NAME = "labelstudio"
SUFFIX = ".json"
LABEL_CONFIG = True  # writes a labelling config that lists the label set
TASK_SCORE = True  # writes a task score (predictions[].score) and takes a task order
FROM_NAME = "label"
TO_NAME = "text"
MULTIPLE = "multiple_annotations"  # report kind: several live annotations, the latest was used


def labelling_config(labels: Iterable[str], from_name: str = FROM_NAME, to_name: str = TO_NAME) -> str:
    """The Label Studio labelling config (XML) for NER over ``labels``."""
    lines = ["<View>", f"  <Labels name={quoteattr(from_name)} toName={quoteattr(to_name)}>"]
    for label in sorted(set(labels)):
        lines.append(f"    <Label value={quoteattr(label)}/>")
    lines.append("  </Labels>")
    lines.append(f"  <Text name={quoteattr(to_name)} value=\"${to_name}\"/>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def config_path_for(path: Union[str, Path]) -> Path:
    """Where ``write`` puts the labelling config: ``<stem>.config.xml`` beside the tasks."""
    path = Path(path)
    return path.with_name(path.stem + ".config.xml")


def doc_to_task(
    doc: Doc,
    spans_key=None,
    index: int = 0,
    model_version: str = "nerbert",
    label_set: Optional[LabelSet] = None,
    score: Optional[float] = None,
    position: Optional[int] = None,
    model: Optional[str] = None,
) -> Dict[str, Any]:
    """One Label Studio task for ``doc``; its labels are noted in ``label_set`` if given.

    score (Optional[float]): The task score for ``predictions[0].score``
        (default: the mean of the span scores).
    position (Optional[int]): Place of the task in an ordered output: it
        becomes the task id, and ``index`` goes to ``data.meta.doc_index``.
    model (Optional[str]): Name of the pipeline, for the model spans' provenance.
    """
    result = []
    scores = []
    spans = export_spans(doc, spans_key, model=model)
    if label_set is not None:
        label_set.add(doc, spans)
    for j, s in enumerate(spans):
        item: Dict[str, Any] = {
            "id": f"d{index}s{j}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "value": {"start": s.start, "end": s.end, "text": s.text, "labels": [s.label]},
        }
        if s.score is not None:
            item["score"] = round(s.score, 6)
            scores.append(s.score)
        extra: Dict[str, Any] = {"kb_id": s.kb_id} if s.kb_id else {}
        if s.provenance:
            extra["provenance"] = s.provenance
        if extra:
            item["meta"] = extra
        result.append(item)
    data: Dict[str, Any] = {"text": doc.text}
    meta = json_safe_user_data(doc)
    if position is not None:
        meta["doc_index"] = index
    if meta:
        data["meta"] = meta
    prediction: Dict[str, Any] = {"model_version": model_version, "result": result}
    if score is not None:
        prediction["score"] = round(score, 6)
    elif scores:
        prediction["score"] = round(sum(scores) / len(scores), 6)
    return {"id": (index if position is None else position) + 1, "data": data, "predictions": [prediction]}


def write(
    docs: Iterable[Doc],
    path: Union[str, Path],
    *,
    spans_key=None,
    model_version: str = "nerbert",
    labels: Optional[Iterable[str]] = None,
    config_path: Optional[Union[str, Path]] = None,
    order: Optional[str] = None,
    model: Optional[str] = None,
) -> Dict[str, int]:
    """Write Label Studio tasks with predictions, and the labelling config.

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output ``.json`` file (a JSON list of tasks, written atomically).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    model_version (str): ``model_version`` of the predictions.
    labels (Optional[Iterable[str]]): The label set for the config (a pipeline's
        or corpus's); the exported spans' labels are always added. Default: the
        labels of the docs' ``doc.ents`` and the exported spans.
    config_path (Optional[str | Path]): Where to write the config XML
        (default ``<stem>.config.xml`` beside ``path``).
    order (Optional[str]): None (input order, prediction score = mean span
        score), ``"file"`` or ``"uncertainty"`` (prediction score = the task's
        uncertainty score; see :func:`~.base.order_docs`); with an order the
        task ids follow the output order and ``data.meta.doc_index`` keeps the input's.
    model (Optional[str]): Name of the pipeline that made the predictions: the
        ``model_version`` (instead of ``model_version``) and the model spans' provenance.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written, ``labels`` in the
        config, ``labels_not_in_set`` (exported labels that ``labels`` lacks).
    """
    path = check_output(path)
    config = check_output(config_path or config_path_for(path))
    label_set = LabelSet(labels)
    tasks = [
        doc_to_task(doc, spans_key, i, model or model_version, label_set, score, None if order is None else pos, model)
        for pos, (i, doc, score) in enumerate(order_docs(docs, order, spans_key))
    ]
    n_spans = sum(len(t["predictions"][0]["result"]) for t in tasks)
    write_json_atomic(path, tasks)
    write_text_atomic(config, labelling_config(label_set.labels))
    return {"docs": len(tasks), "spans": n_spans, **label_set.stats()}


def _when(ann: Dict[str, Any]) -> Tuple[str, int]:
    return (str(ann.get("updated_at") or ann.get("created_at") or ""), int(ann.get("id") or 0))


def _result_spans(result: Any, path: Path, record: int, report: ImportReport) -> List[CharSpan]:
    out = []
    if not isinstance(result, list):
        report.add(path, record, INVALID, "'result' is not a list; nothing taken")
        return out
    for j, item in enumerate(result):
        if not isinstance(item, dict):
            report.add(path, record, INVALID, f"result item {j} is not an object; skipped")
            continue
        value = item.get("value") or {}
        labels = value.get("labels") or value.get("hypertextlabels")
        if item.get("type") not in ("labels", "hypertextlabels", None) or not labels:
            report.add(path, record, UNSUPPORTED, f"result item {j} of type {item.get('type')!r} is not a span label; skipped")
            continue
        if "start" not in value or "end" not in value:
            report.add(path, record, INVALID, f"result item {j} has no start/end offsets; skipped")
            continue
        if len(labels) > 1:
            report.add(
                path, record, INVALID, f"result item {j} has several labels {labels}; kept the first ({labels[0]})"
            )
        meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
        provenance = read_provenance(meta.get("provenance"), path, record, f"result item {j}", report)
        kb = meta.get("kb_id", "") or ""
        out.append(CharSpan(value["start"], value["end"], labels[0], text=value.get("text"), kb_id=kb, provenance=provenance))
    return out


def _task_input(
    task: Any, path: Path, i: int, report: ImportReport, *, use_predictions: bool, text_key: str
) -> RecordInput:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise NerbertError("a task must be an object with 'data'", path, f"task {i}")
    text = task["data"].get(text_key)
    if not isinstance(text, str):
        raise NerbertError(f"task has no string data.{text_key}", path, f"task {i}")
    anns = [a for a in task.get("annotations") or task.get("completions") or [] if isinstance(a, dict)]
    live = []
    for a in anns:
        if a.get("was_cancelled"):
            report.add(path, i, CANCELLED, f"annotation {a.get('id')} was cancelled; not used")
        else:
            live.append(a)
    result = None
    if live:
        latest = max(live, key=_when)
        if len(live) > 1:
            report.add(path, i, MULTIPLE, f"{len(live)} annotations; used the latest (id {latest.get('id')})")
        result = latest.get("result", [])
    elif use_predictions and task.get("predictions"):
        pred = task["predictions"][0]
        result = pred.get("result", []) if isinstance(pred, dict) else []
        report.add(path, i, FROM_PREDICTIONS, "no annotation; took the first prediction")
    else:
        report.add(path, i, NO_ANNOTATION, "no usable annotation; doc has no entities")
        result = []
    meta = task["data"].get("meta") if isinstance(task["data"].get("meta"), dict) else {}
    meta = {k: v for k, v in meta.items() if k != "doc_index"}
    return RecordInput(text, _result_spans(result, path, i, report), user_data=meta)


def read(
    path: PathLike,
    nlp_or_vocab: NlpSource = None,
    *,
    snap: bool = False,
    spans_key=None,
    use_predictions: bool = False,
    text_key: str = "text",
) -> ReadResult:
    """Read a Label Studio JSON export (or tasks file) into Docs.

    path (str | Path): The JSON file (a list of tasks, or one task).
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    use_predictions (bool): Take a task's first prediction when it has no
        usable annotation (reported); otherwise such tasks give docs without entities.
    text_key (str): The key of the text in ``data``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "Label Studio JSON file")
    data = read_json(path)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise NerbertError("a Label Studio export must be a JSON list of tasks", path)
    parse = partial(_task_input, use_predictions=use_predictions, text_key=text_key)
    return import_records(path, enumerate(data, start=1), parse, nlp_or_vocab, snap=snap, spans_key=spans_key)

"""BRAT standoff: a ``.txt`` and an ``.ann`` file per document in one folder.

Each span is a text-bound annotation line ``T<n>\\tLABEL start end\\ttext``
(character offsets into the ``.txt``). A span that crosses a line break is
written as BRAT does, as fragments ``start end;start end`` split at the breaks.
``write`` also puts an ``annotation.conf`` listing the entity types in the folder
(the whole label set when one is given, see ``write``) and swaps the finished
folder in only when every file is written.
``read`` merges fragments separated only by whitespace back into one span and
skips (and reports) truly discontinuous ones; relations, events, attributes
and notes are counted as unsupported.
"""
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from spacy.tokens import Doc

from ..errors import NerbertError, require_dir
from ..util import atomic_dir
from .base import (
    DISCONTINUOUS,
    NO_ANNOTATION,
    SKIPPED_FILE,
    UNSUPPORTED,
    CharSpan,
    ExportSpan,
    ImportReport,
    LabelSet,
    NlpSource,
    PathLike,
    ReadResult,
    RecordInput,
    check_output,
    export_spans,
    import_records,
)

NAME = "brat"
SUFFIX = ""  # a directory
LABEL_CONFIG = True  # writes a labelling config that lists the label set
_T_LINE = re.compile(r"^T\d+\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$", re.DOTALL)


def _type_name(label: str) -> str:
    """A label as a BRAT entity type (no whitespace)."""
    return re.sub(r"\s", "_", label)


def _fragments(text: str, start: int, end: int) -> List[Tuple[int, int]]:
    """Split [start, end) at line breaks (BRAT's representation of multi-line spans)."""
    frags = []
    pos = start
    for m in re.finditer(r"[\r\n]+", text[start:end]):
        a, b = start + m.start(), start + m.end()
        if a > pos:
            frags.append((pos, a))
        pos = b
    if pos < end:
        frags.append((pos, end))
    return frags


def spans_to_ann(text: str, spans: Iterable[ExportSpan]) -> str:
    """The ``.ann`` content for ``spans`` of ``text``."""
    lines = []
    for n, s in enumerate(spans, start=1):
        label = _type_name(s.label)
        frags = _fragments(text, s.start, s.end)
        offsets = ";".join(f"{a} {b}" for a, b in frags)
        shown = " ".join(text[a:b] for a, b in frags)
        lines.append(f"T{n}\t{label} {offsets}\t{shown}")
    return "".join(line + "\n" for line in lines)


def doc_to_ann(doc: Doc, spans_key=None) -> str:
    """The ``.ann`` content for ``doc``."""
    return spans_to_ann(doc.text, export_spans(doc, spans_key))


def _check_replaceable(out: Path) -> None:
    """Refuse to replace a folder that is not empty and not an earlier BRAT export."""
    if not out.is_dir():
        return
    entries = sorted(out.iterdir())
    if not entries:
        return
    foreign = [e.name for e in entries if not (e.is_file() and e.suffix in (".txt", ".ann", ".conf"))]
    if foreign or not (out / "annotation.conf").is_file():
        example = foreign[0] if foreign else "no annotation.conf"
        raise NerbertError(
            f"output folder is not empty and is not a BRAT export ({example}); choose a new or empty folder "
            "(an earlier export is replaced whole)",
            out,
        )


def _write_file(path: Path, text: str) -> None:
    # newline="": the text is written unchanged (offsets count its "\r\n" as two characters)
    with path.open("w", encoding="utf8", newline="") as f:
        f.write(text)


def annotation_conf(labels: Iterable[str]) -> str:
    """The ``annotation.conf`` listing ``labels`` as entity types."""
    conf = "[entities]\n" + "".join(f"{name}\n" for name in sorted({_type_name(lab) for lab in labels}))
    return conf + "\n[relations]\n\n[events]\n\n[attributes]\n"


def write(
    docs: Iterable[Doc],
    path: Union[str, Path],
    *,
    spans_key=None,
    prefix: str = "doc",
    labels: Optional[Iterable[str]] = None,
) -> Dict[str, int]:
    """Write each doc as ``<prefix>-<n>.txt`` + ``.ann`` into the folder ``path``.

    The files go into a temporary folder beside ``path`` that replaces it only
    when all are written: an interrupted export leaves the previous folder as
    it was. An existing ``path`` must be empty or an earlier BRAT export
    (``.txt``, ``.ann`` and ``.conf`` files with an ``annotation.conf``).

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output folder.
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    prefix (str): File name prefix.
    labels (Optional[Iterable[str]]): The label set for ``annotation.conf``
        (a pipeline's or corpus's); the exported spans' labels are always added.
        Default: the labels of the docs' ``doc.ents`` and the exported spans.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written, ``labels`` in the
        config, ``labels_not_in_set`` (exported labels that ``labels`` lacks).
    """
    out = check_output(path, folder=True)
    _check_replaceable(out)
    label_set = LabelSet(labels)
    n_docs = n_spans = 0
    with atomic_dir(out) as tmp:
        for i, doc in enumerate(docs):
            stem = f"{prefix}-{i:06d}"
            spans = export_spans(doc, spans_key)
            _write_file(tmp / f"{stem}.txt", doc.text)
            _write_file(tmp / f"{stem}.ann", spans_to_ann(doc.text, spans))
            label_set.add(doc, spans)
            n_spans += len(spans)
            n_docs += 1
        _write_file(tmp / "annotation.conf", annotation_conf(label_set.labels))
    return {"docs": n_docs, "spans": n_spans, **label_set.stats()}


def _read_text(path: Path) -> str:
    with path.open("r", encoding="utf8", newline="") as f:
        return f.read()


def parse_ann(ann_path: Path, text: str, record: int, report: ImportReport) -> List[CharSpan]:
    """Text-bound annotations of one ``.ann`` file as CharSpans (see module docstring)."""
    out = []
    for n, line in enumerate(_read_text(ann_path).splitlines(), start=1):
        if not line.strip():
            continue
        if not line.startswith("T"):
            report.add(ann_path, record, UNSUPPORTED, f"line {n} ({line[:1]}...) is not a text-bound annotation; skipped")
            continue
        m = _T_LINE.match(line)
        if m is None:
            raise NerbertError("malformed text-bound annotation (expected 'T<n>\\tLABEL start end\\ttext')", ann_path, f"line {n}")
        label, offsets, _shown = m.groups()
        frags = [tuple(int(x) for x in part.split()) for part in offsets.split(";")]
        frags.sort()
        start, end = frags[0][0], frags[-1][1]
        if len(frags) > 1:
            gaps_blank = all(text[a[1] : b[0]].strip() == "" for a, b in zip(frags, frags[1:]))
            if gaps_blank:
                report.add(
                    ann_path,
                    record,
                    DISCONTINUOUS,
                    f"line {n}: {len(frags)} fragments separated by whitespace merged into [{start}:{end}]",
                )
            else:
                report.add(
                    ann_path, record, DISCONTINUOUS, f"line {n}: discontinuous span {offsets} {label}; skipped"
                )
                continue
        # BRAT's shown text joins fragments with spaces: compare only single-fragment spans.
        out.append(CharSpan(start, end, label, text=_shown if len(frags) == 1 else None))
    return out


def _pair_input(
    pair: Tuple[Optional[Path], Optional[Path]], path: Path, i: int, report: ImportReport
) -> Optional[RecordInput]:
    txt, ann = pair
    if txt is None:
        assert ann is not None
        report.add(ann, i, SKIPPED_FILE, f"no {ann.stem}.txt beside it; skipped")
        return None
    if not txt.exists():
        raise NerbertError("BRAT text file not found", txt)
    text = _read_text(txt)
    spans: List[CharSpan] = []
    if ann is not None:
        spans = parse_ann(ann, text, i, report)
    else:
        report.add(txt, i, NO_ANNOTATION, f"no {txt.stem}.ann beside the text; doc has no entities")
    return RecordInput(text, spans, user_data={"brat_file": txt.name}, file=ann or txt)


def _folder_pairs(folder: Path) -> Tuple[List[Tuple[Optional[Path], Optional[Path]]], List[Path]]:
    """The documents of a BRAT folder (``.txt``/``.ann`` by name, either may be
    missing), in name order, and the other files (``.conf`` files excepted)."""
    docs: Dict[Path, Dict[str, Path]] = {}
    others = []
    for f in sorted(folder.rglob("*")):
        if not f.is_file() or f.suffix == ".conf":
            continue
        if f.suffix in (".txt", ".ann"):
            docs.setdefault(f.with_suffix(""), {})[f.suffix] = f
        else:
            others.append(f)
    pairs = [(d.get(".txt"), d.get(".ann")) for _, d in sorted(docs.items())]
    if not any(txt is not None for txt, _ in pairs):
        orphans = [ann for _, ann in pairs if ann is not None]
        if not orphans:
            raise NerbertError("no BRAT documents (.txt and .ann files) in the folder", folder)
        n = len(orphans)
        raise NerbertError(
            f"no BRAT documents to import: {n} .ann file{'s' if n > 1 else ''} without a .txt beside it "
            f"({orphans[0].name}{', ...' if n > 1 else ''})",
            folder,
        )
    return pairs, others


def read(path: PathLike, nlp_or_vocab: NlpSource = None, *, snap: bool = False, spans_key=None) -> ReadResult:
    """Read a BRAT folder (``.txt`` files with their ``.ann``) into Docs, in file-name order.

    Each document name (``.txt`` and/or ``.ann``) is one record. A ``.txt``
    without an ``.ann`` gives a doc without entities (reported as
    ``no_annotation``); an ``.ann`` without its ``.txt`` and any file other than
    ``.txt``, ``.ann`` and BRAT's ``.conf`` files are reported as
    ``skipped_file``. A folder without any ``.txt`` is an error.

    path (str | Path): The folder (or a single ``.txt``/``.ann`` file).
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    p = Path(path)
    others: List[Path] = []
    if p.is_file():
        ann = p.with_suffix(".ann")
        pairs: List[Tuple[Optional[Path], Optional[Path]]] = [(p.with_suffix(".txt"), ann if ann.exists() else None)]
    else:
        pairs, others = _folder_pairs(require_dir(p, "BRAT folder"))
    report = ImportReport()
    for f in others:
        report.add(f, 0, SKIPPED_FILE, "not a BRAT .txt, .ann or .conf file; skipped")
    docs, records = import_records(
        p, enumerate(pairs, start=1), _pair_input, nlp_or_vocab, snap=snap, spans_key=spans_key
    )
    return docs, report.merge(records)

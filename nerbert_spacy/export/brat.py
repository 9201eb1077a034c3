"""BRAT standoff: a ``.txt`` and an ``.ann`` file per document in one folder.

Each span is a text-bound annotation line ``T<n>\\tLABEL start end\\ttext``
(character offsets into the ``.txt``). A span that crosses a line break is
written as BRAT does, as fragments ``start end;start end`` split at the breaks.
``write`` also puts an ``annotation.conf`` listing the entity types in the folder.
``read`` merges fragments separated only by whitespace back into one span and
skips (and reports) truly discontinuous ones; relations, events, attributes
and notes are counted as unsupported.
"""
import re
from pathlib import Path
from typing import Dict, Iterable, List, Tuple, Union

from spacy.tokens import Doc

from ..errors import NerbertError, require_dir
from ..util import write_text_atomic
from .base import DISCONTINUOUS, UNSUPPORTED, CharSpan, ImportReport, NlpSource, PathLike, ReadResult, RecordInput
from .base import export_spans, import_records

NAME = "brat"
SUFFIX = ""  # a directory
_T_LINE = re.compile(r"^T\d+\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$", re.DOTALL)


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


def doc_to_ann(doc: Doc, spans_key=None) -> str:
    """The ``.ann`` content for ``doc``."""
    lines = []
    for n, s in enumerate(export_spans(doc, spans_key), start=1):
        label = re.sub(r"\s", "_", s.label)
        frags = _fragments(doc.text, s.start, s.end)
        offsets = ";".join(f"{a} {b}" for a, b in frags)
        shown = " ".join(doc.text[a:b] for a, b in frags)
        lines.append(f"T{n}\t{label} {offsets}\t{shown}")
    return "".join(line + "\n" for line in lines)


def write(
    docs: Iterable[Doc], path: Union[str, Path], *, spans_key=None, prefix: str = "doc"
) -> Dict[str, int]:
    """Write each doc as ``<prefix>-<n>.txt`` + ``.ann`` into the folder ``path``.

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output folder (created; existing files of the same names replaced).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` instead of ``doc.ents``.
    prefix (str): File name prefix.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    labels = set()
    n_docs = n_spans = 0
    for i, doc in enumerate(docs):
        stem = f"{prefix}-{i:06d}"
        ann = doc_to_ann(doc, spans_key)
        # newline="" semantics: write_text_atomic writes the text unchanged.
        write_text_atomic(out / f"{stem}.txt", doc.text)
        write_text_atomic(out / f"{stem}.ann", ann)
        for line in ann.splitlines():
            labels.add(line.split("\t")[1].split(" ")[0])
            n_spans += 1
        n_docs += 1
    conf = "[entities]\n" + "".join(f"{lab}\n" for lab in sorted(labels))
    conf += "\n[relations]\n\n[events]\n\n[attributes]\n"
    write_text_atomic(out / "annotation.conf", conf)
    return {"docs": n_docs, "spans": n_spans}


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


def _txt_input(txt: Path, path: Path, i: int, report: ImportReport) -> RecordInput:
    if not txt.exists():
        raise NerbertError("BRAT text file not found", txt)
    text = _read_text(txt)
    ann = txt.with_suffix(".ann")
    spans: List[CharSpan] = []
    if ann.exists():
        spans = parse_ann(ann, text, i, report)
    else:
        report.add(txt, i, UNSUPPORTED, "no .ann file beside the text; doc has no entities")
    return RecordInput(text, spans, user_data={"brat_file": txt.name}, file=ann)


def read(path: PathLike, nlp_or_vocab: NlpSource = None, *, snap: bool = False, spans_key=None) -> ReadResult:
    """Read a BRAT folder (``.txt`` files with their ``.ann``) into Docs, in file-name order.

    path (str | Path): The folder (or a single ``.txt``/``.ann`` file).
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source.
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    p = Path(path)
    if p.is_file():
        txts = [p.with_suffix(".txt")]
    else:
        txts = sorted(require_dir(p, "BRAT folder").rglob("*.txt"))
    return import_records(p, enumerate(txts, start=1), _txt_input, nlp_or_vocab, snap=snap, spans_key=spans_key)

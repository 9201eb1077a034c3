"""CoNLL / IOB: one ``token<TAB>tag`` line per token, a blank line between docs.

BIO tags can hold only non-overlapping spans: ``write`` exports ``doc.ents``
(or a span group reduced to a non-overlapping choice, longest first; what it
leaves out is counted) and skips whitespace tokens, which have no place in the
format. ``read`` accepts tab- or space-separated columns (token first, tag
last), ``-DOCSTART-`` lines, and IOB1-style ``I-`` tags that open a span
(repaired and reported). Text is rebuilt with a single space between tokens.
"""
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..errors import NerbertError, require_file
from ..util import atomic_path
from .base import IOB_REPAIRED, NON_ENTS, ImportReport, NlpSource, PathLike, ReadResult, check_output, get_nlp

NAME = "conll"
SUFFIX = ".conll"


def doc_to_rows(doc: Doc, spans_key=None) -> Tuple[List[Tuple[str, str]], int, int]:
    """(token, tag) rows of ``doc``; also the number of spans written and left out."""
    if spans_key is None:
        spans = list(doc.ents)
        left_out = 0
    else:
        group = list(doc.spans[spans_key]) if spans_key in doc.spans else []
        spans = filter_spans(group)
        left_out = len(group) - len(spans)
    tags = ["O"] * len(doc)
    for s in spans:
        tags[s.start] = f"B-{s.label_}"
        for i in range(s.start + 1, s.end):
            tags[i] = f"I-{s.label_}"
    rows = [(t.text, tag) for t, tag in zip(doc, tags) if not t.is_space]
    return rows, len(spans), left_out


def write(docs: Iterable[Doc], path: Union[str, Path], *, spans_key=None) -> Dict[str, int]:
    """Write ``docs`` as CoNLL/IOB (token TAB tag, blank line between docs).

    docs (Iterable[Doc]): The documents.
    path (str | Path): Output file (written atomically).
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` (reduced to
        non-overlapping spans) instead of ``doc.ents``.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written, ``not_in_ents``
        (overlapping spans not written) and ``empty_docs_skipped`` (docs with
        no non-whitespace token, which the format cannot hold).
    """
    n_docs = n_spans = n_left = n_empty = 0
    with atomic_path(check_output(path)) as tmp:
        with tmp.open("w", encoding="utf8") as f:
            for doc in docs:
                rows, written, left = doc_to_rows(doc, spans_key)
                if not rows:
                    n_empty += 1
                    continue
                if n_docs:
                    f.write("\n")
                for tok, tag in rows:
                    f.write(f"{tok}\t{tag}\n")
                n_docs += 1
                n_spans += written
                n_left += left
    return {"docs": n_docs, "spans": n_spans, NON_ENTS: n_left, "empty_docs_skipped": n_empty}


def _block_to_doc(
    nlp: Language, rows: List[Tuple[int, str, str]], path: Path, record: int, report: ImportReport
) -> Doc:
    words = [w for _, w, _ in rows]
    doc = Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
    spans: List[Span] = []
    start: Optional[int] = None
    label: Optional[str] = None

    def close(i: int) -> None:
        nonlocal start, label
        if start is not None:
            spans.append(Span(doc, start, i, label=label))
        start = label = None

    for i, (line, _w, tag) in enumerate(rows):
        if tag == "O":
            close(i)
            continue
        prefix, _, lab = tag.partition("-")
        if prefix not in ("B", "I", "E", "S", "L", "U") or not lab:
            raise NerbertError(f"tag {tag!r} is not O, B-X or I-X", path, f"line {line}")
        if prefix in ("B", "S", "U") or start is None or lab != label:
            if prefix in ("I", "E", "L") and (start is None or lab != label):
                report.add(path, record, IOB_REPAIRED, f"line {line}: {tag} opens a span; read as B-{lab}")
            close(i)
            start, label = i, lab
        if prefix in ("E", "L", "S", "U"):
            close(i + 1)
    close(len(rows))
    doc.set_ents(spans, default="outside")
    report.docs += 1
    report.spans += len(spans)
    return doc


def read(path: PathLike, nlp_or_vocab: NlpSource = None, *, snap: bool = False, spans_key=None) -> ReadResult:
    """Read CoNLL/IOB into Docs (one per blank-line-separated block).

    path (str | Path): The file.
    nlp_or_vocab (Language | Vocab | str | None): Vocab source (tokens are given).
    snap (bool): Unused (tokens are given, spans always align); accepted for a uniform API.
    spans_key (Optional[str]): Also keep the spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    path = require_file(path, "CoNLL file")
    nlp = get_nlp(nlp_or_vocab)
    report = ImportReport()
    docs = []
    block: List[Tuple[int, str, str]] = []

    def flush() -> None:
        if block:
            report.records += 1
            doc = _block_to_doc(nlp, block, path, report.records, report)
            if spans_key:
                doc.spans[spans_key] = list(doc.ents)
            docs.append(doc)
            block.clear()

    with path.open("r", encoding="utf8") as f:
        for n, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                flush()
                continue
            if line.startswith("-DOCSTART-"):
                flush()
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            if len(cols) < 2 or not cols[0]:
                if line.startswith("#"):
                    continue
                raise NerbertError("expected 'token<TAB>tag'", path, f"line {n}")
            block.append((n, cols[0], cols[-1].strip()))
    flush()
    return docs, report

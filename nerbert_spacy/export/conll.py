"""CoNLL / IOB: one ``token<TAB>tag`` line per token, a blank line between docs.

BIO tags can hold only non-overlapping spans: ``write`` exports ``doc.ents``
(or a span group reduced to a non-overlapping choice, longest first; what it
leaves out is counted) and skips whitespace tokens, which have no place in the
format. ``read`` uses the dataset readers' CoNLL parser: tab- or space-separated
columns (token first, tag last), ``-DOCSTART-`` lines, BIOES/BILOU tags, and
IOB1-style ``I-`` tags that open a span (repaired and reported). Text is rebuilt
with a single space between tokens.
"""
import bisect
from pathlib import Path
from typing import Dict, Iterable, List, Tuple, Union

from spacy.tokens import Doc
from spacy.util import filter_spans

from ..datasets.readers import parse_conll, read_text
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


def read(path: PathLike, nlp_or_vocab: NlpSource = None, *, snap: bool = False, spans_key=None) -> ReadResult:
    """Read CoNLL/IOB into Docs (one per blank-line-separated block).

    The columns are parsed by the dataset reader's parser
    (:func:`nerbert_spacy.datasets.readers.parse_conll`), with BIO, IOB1 and BIOES/BILOU
    tags accepted and labels kept as written; an ``I-``/``E-`` tag that opens a span is
    read as ``B-`` and reported (``iob_repaired``). An empty file gives no Docs.

    path (str | Path): The file.
    nlp_or_vocab (Language | Vocab | str | None): Vocab source (tokens are given).
    snap (bool): Unused (tokens are given, spans always align); accepted for a uniform API.
    spans_key (Optional[str]): Also keep the spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    p, text = read_text(path, "CoNLL file", allow_empty=True)
    nlp = get_nlp(nlp_or_vocab)
    report = ImportReport()
    repairs: List[Tuple[int, str, str]] = []
    sentences, _ = parse_conll(
        p,
        text,
        scheme="auto",
        label_fn=str,  # labels as written
        comments=True,
        on_repair=lambda line, raw, fixed: repairs.append((line, raw, fixed)),
        require_sentences=False,
    )
    starts = [s.line for s in sentences]
    for line, raw, fixed in repairs:
        report.add(p, bisect.bisect_right(starts, line), IOB_REPAIRED, f"line {line}: {raw} opens a span; read as {fixed}")
    docs = []
    for sentence in sentences:
        report.records += 1
        words = sentence.tokens
        doc = Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False], ents=sentence.tags)
        if spans_key:
            doc.spans[spans_key] = list(doc.ents)
        report.docs += 1
        report.spans += len(doc.ents)
        docs.append(doc)
    return docs, report

#!/usr/bin/env python
"""Build the embedded default fine-tuning set (``assets/default/finetune``).

The sentences are hand-written for this project in a small inline markup, one
sentence per line, in ``assets/default/finetune/source/{train,dev,test}.txt``::

    [Nelson Mandela](politician) was released from prison in [South Africa](country) in 1990.

Entities are ``[surface text](label)`` with a label from the nine CrossNER
politics labels; lines starting with ``#`` are comments and blank lines are
skipped. Each sentence is tokenized with spaCy's English tokenizer
(``spacy.blank("en")``), every entity must align exactly with token boundaries
(``Doc.char_span(..., alignment_mode="strict")``), and the splits are written
next to the source folder as ``train.conll``, ``dev.conll``, ``test.conll``:
one ``token<TAB>BIO-tag`` line per token, a blank line between sentences,
UTF-8, no ``-DOCSTART-``. The output is a pure function of the source files.

Usage (from the project root):
    python scripts/make_default_finetune.py
    python scripts/make_default_finetune.py --dir assets/default/finetune

The consistency report is ``python scripts/check_default_finetune.py``.
"""

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "assets" / "default" / "finetune"
SPLITS = ("train", "dev", "test")
LABELS = ("politician", "person", "organisation", "politicalparty", "event", "election", "country", "location", "misc")
ENTITY = re.compile(r"\[([^\[\]()]+)\]\(([^()\[\]]*)\)")
MARKUP_CHARS = "[]"


class MarkupError(ValueError):
    """A source line that cannot be turned into a labelled sentence."""


@dataclass
class Sentence:
    """One labelled sentence: where it came from, its text, tokens and BIO tags."""

    file: str
    line: int
    text: str
    tokens: List[str] = field(default_factory=list)
    tags: List[str] = field(default_factory=list)
    spans: List[Tuple[int, int, str]] = field(default_factory=list)  # token start, end (excl.), label

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def parse_markup(line: str) -> Tuple[str, List[Tuple[int, int, str]]]:
    """Plain text and character spans ``(start, end, label)`` of one marked-up line.

    Raises MarkupError for an unknown label, an empty or padded entity text,
    or stray markup characters (``[`` or ``]``) outside a well-formed entity.
    """
    text_parts: List[str] = []
    spans: List[Tuple[int, int, str]] = []
    pos = 0
    length = 0
    for m in ENTITY.finditer(line):
        before = line[pos:m.start()]
        _check_plain(before)
        text_parts.append(before)
        length += len(before)
        surface, label = m.group(1), m.group(2)
        if label not in LABELS:
            raise MarkupError(f"unknown label {label!r} for {surface!r}; use one of {', '.join(LABELS)}")
        if not surface.strip() or surface != surface.strip():
            raise MarkupError(f"entity text {surface!r} is empty or has leading/trailing spaces")
        spans.append((length, length + len(surface), label))
        text_parts.append(surface)
        length += len(surface)
        pos = m.end()
    rest = line[pos:]
    _check_plain(rest)
    text_parts.append(rest)
    return "".join(text_parts), spans


def _check_plain(chunk: str) -> None:
    for ch in MARKUP_CHARS:
        if ch in chunk:
            raise MarkupError(f"malformed markup near {chunk.strip()[:50]!r}: stray {ch!r} "
                              "(entities are written [text](label))")
    if "](" in chunk:
        raise MarkupError(f"malformed markup near {chunk.strip()[:50]!r}")


def read_source(path: Path, nlp) -> List[Sentence]:
    """All sentences of one source file, tokenized and BIO-tagged.

    Raises MarkupError naming ``file:line`` for the first bad line.
    """
    sentences: List[Sentence] = []
    name = path.name
    for lineno, raw in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        try:
            text, char_spans = parse_markup(line)
        except MarkupError as err:
            raise MarkupError(f"{where}: {err}") from None
        doc = nlp(text)
        tags = ["O"] * len(doc)
        spans: List[Tuple[int, int, str]] = []
        for start, end, label in char_spans:
            span = doc.char_span(start, end, label=label, alignment_mode="strict")
            if span is None:
                toks = " | ".join(t.text for t in doc)
                raise MarkupError(f"{where}: entity {text[start:end]!r} ({label}) does not align with the "
                                  f"spaCy tokens: {toks}")
            if any(t != "O" for t in tags[span.start:span.end]):
                raise MarkupError(f"{where}: entity {span.text!r} overlaps another entity")
            tags[span.start] = f"B-{label}"
            for i in range(span.start + 1, span.end):
                tags[i] = f"I-{label}"
            spans.append((span.start, span.end, label))
        tokens = [t.text for t in doc]
        if any(not t.strip() or "\t" in t for t in tokens):
            raise MarkupError(f"{where}: a token is blank or contains a tab (check for double spaces)")
        sentences.append(Sentence(name, lineno, text, tokens, tags, spans))
    return sentences


def load_splits(folder: Path) -> Dict[str, List[Sentence]]:
    """Read ``folder/source/{train,dev,test}.txt``; MarkupError on the first bad line."""
    import spacy

    nlp = spacy.blank("en")
    out: Dict[str, List[Sentence]] = {}
    for split in SPLITS:
        path = folder / "source" / f"{split}.txt"
        if not path.is_file():
            raise MarkupError(f"{path}: source file not found")
        out[split] = read_source(path, nlp)
        if not out[split]:
            raise MarkupError(f"{path}: no sentences")
    return out


def load_splits_or_say_why(folder: Path) -> Optional[Dict[str, List[Sentence]]]:
    """:func:`load_splits`, or None after printing the markup error to stderr."""
    try:
        return load_splits(folder)
    except MarkupError as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def to_conll(sentences: List[Sentence]) -> str:
    blocks = ["\n".join(f"{tok}\t{tag}" for tok, tag in zip(s.tokens, s.tags)) for s in sentences]
    return "\n\n".join(blocks) + "\n"


def label_counts(sentences: List[Sentence]) -> Counter:
    return Counter(label for s in sentences for _, _, label in s.spans)


def summary(splits: Dict[str, List[Sentence]]) -> str:
    """A Markdown table: sentences, tokens, entities and entities per label, per split."""
    head = ["label"] + list(splits) + ["total"]
    rows = [head, ["---"] * len(head)]
    counts = {k: label_counts(v) for k, v in splits.items()}

    def row(name, values):
        rows.append([name] + [str(v) for v in values] + [str(sum(values))])

    row("sentences", [len(v) for v in splits.values()])
    row("tokens", [sum(len(s.tokens) for s in v) for v in splits.values()])
    row("entities", [sum(c.values()) for c in counts.values()])
    for label in LABELS:
        row(f"`{label}`", [counts[k][label] for k in splits])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help="folder holding source/{train,dev,test}.txt; the .conll files are written there")
    args = parser.parse_args(argv)
    splits = load_splits_or_say_why(args.dir)
    if splits is None:
        return 1
    for split, sentences in splits.items():
        (args.dir / f"{split}.conll").write_text(to_conll(sentences), encoding="utf8", newline="\n")
    print(summary(splits))
    for split, sentences in splits.items():
        n_ents = sum(len(s.spans) for s in sentences)
        missing = [label for label in LABELS if not label_counts(sentences)[label]]
        note = f"; labels missing: {', '.join(missing)}" if missing else ""
        print(f"{split}: {len(sentences)} sentences, {n_ents} entities "
              f"({n_ents / len(sentences):.2f} per sentence){note} -> {args.dir / (split + '.conll')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

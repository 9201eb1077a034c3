"""Readers for token-level NER formats: CoNLL-style columns, spaCy's ``iob``
one-sentence-per-line format and character-offset JSONL.

Every reader returns a list of :class:`Sentence` (tokens + valid BIO tags +
where it came from) and a :class:`ReadStats` counting everything that was
changed on the way (BIO repairs, IO->BIO conversions, dropped empty tokens,
...), so no repair is silent. Bad input raises :class:`NerbertError` naming
the file and line.

Label normalisation (:func:`normalise_label`): labels keep each dataset's own
names but are lower-cased, stripped, and inner whitespace becomes ``_``
(``ORG`` -> ``org``, ``Gene_or_gene_product`` -> ``gene_or_gene_product``,
``political party`` -> ``political_party``).
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

import srsly

from ..errors import NerbertError, require_file
from ..evaluation import doc_bio_tags

PathLike = Union[str, Path]

#: Tag schemes a reader accepts: "bio" (IOB2; invalid I- are repaired to B-),
#: "io" (only I- prefixes, or bare labels; an entity starts where the type changes),
#: "bioes" (BILOU/IOBES, converted to BIO), "auto" (bio, also accepting E-/S-/L-/U-).
SCHEMES = ("bio", "io", "bioes", "auto")

_DOCSTART = "-DOCSTART-"
_WS = re.compile(r"\s+")


@dataclass
class Sentence:
    """One annotated sentence.

    tokens (List[str]): The words.
    tags (List[str]): One valid BIO tag per word (``O``, ``B-label``, ``I-label``).
    source (str): File name the sentence came from.
    line (int): 1-based line number of its first token in that file.
    spaces (Optional[List[bool]]): Whitespace after each token, when known (JSONL).
    """

    tokens: List[str]
    tags: List[str]
    source: str = ""
    line: int = 0
    spaces: Optional[List[bool]] = None

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass
class ReadStats:
    """What a reader saw and changed. All counters start at zero."""

    files: List[str] = field(default_factory=list)
    sentences: int = 0
    tokens: int = 0
    entities: int = 0
    docstarts: int = 0
    bio_repairs: int = 0
    io_to_bio: int = 0
    bioes_to_bio: int = 0
    empty_tokens_dropped: int = 0
    empty_sentences_dropped: int = 0
    spans_expanded: int = 0
    labels: Dict[str, int] = field(default_factory=dict)

    def add(self, other: "ReadStats") -> "ReadStats":
        """Add the counters of ``other`` into this one (in place) and return self."""
        for name in (
            "sentences", "tokens", "entities", "docstarts", "bio_repairs", "io_to_bio",
            "bioes_to_bio", "empty_tokens_dropped", "empty_sentences_dropped", "spans_expanded",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.files.extend(f for f in other.files if f not in self.files)
        for label, n in other.labels.items():
            self.labels[label] = self.labels.get(label, 0) + n
        return self

    def to_dict(self) -> Dict:
        d = dict(self.__dict__)
        d["labels"] = dict(sorted(self.labels.items()))
        return d


def normalise_label(label: str) -> str:
    """Normalise an entity label: strip, lower-case, inner whitespace -> ``_``.

    label (str): A raw label (``ORG``, ``Gene_or_gene_product``, ``political party``).
    RETURNS (str): The normalised label (``org``, ``gene_or_gene_product``, ``political_party``).
    """
    return _WS.sub("_", label.strip()).lower()


def _parse_tag(tag: str, scheme: str) -> Tuple[str, str]:
    """Split a raw tag into (prefix, label); prefix in O/B/I/E/S. Raises ValueError."""
    tag = tag.strip()
    if tag in ("O", "o"):
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0].upper() in "BIESLU":
        prefix, label = tag[0].upper(), tag[2:]
        if not label.strip():
            raise ValueError(f"tag {tag!r} has no entity label")
        prefix = {"L": "E", "U": "S"}.get(prefix, prefix)
        if prefix in "ES" and scheme not in ("bioes", "auto"):
            raise ValueError(f"tag {tag!r} uses an E-/S- prefix, which the {scheme} scheme does not allow")
        if prefix == "B" and scheme == "io":
            # a B- in IO data is harmless: it marks a start explicitly
            return "B", normalise_label(label)
        return prefix, normalise_label(label)
    if scheme == "io" and tag and not any(c.isspace() for c in tag):
        # bare label in IO data ("PER")
        return "I", normalise_label(tag)
    raise ValueError(
        f"invalid tag {tag!r} (expected O, B-<label> or I-<label>"
        + (", E-/S-<label>" if scheme in ("bioes", "auto") else "")
        + ")"
    )


def to_bio(parsed: List[Tuple[str, str]], scheme: str, stats: ReadStats) -> List[str]:
    """Turn parsed (prefix, label) pairs into valid BIO tags, counting every change.

    parsed (List[Tuple[str, str]]): (prefix, label) per token, prefix in O/B/I/E/S.
    scheme (str): The source scheme ("bio", "io", "bioes", "auto").
    stats (ReadStats): Counters to update (``bio_repairs``, ``io_to_bio``, ``bioes_to_bio``).
    RETURNS (List[str]): Valid BIO tags.
    """
    out: List[str] = []
    prev_prefix, prev_label = "O", ""
    for prefix, label in parsed:
        if prefix == "O":
            out.append("O")
        elif prefix in ("B", "S"):
            if prefix == "S":
                stats.bioes_to_bio += 1
            out.append(f"B-{label}")
        else:  # I or E
            if prefix == "E":
                stats.bioes_to_bio += 1
            continues = prev_prefix in ("B", "I") and prev_label == label
            if continues:
                out.append(f"I-{label}")
            else:
                out.append(f"B-{label}")
                if scheme == "io":
                    stats.io_to_bio += 1
                else:
                    stats.bio_repairs += 1
        # after an E-/S- the entity is closed
        prev_prefix = "O" if prefix in ("E", "S", "O") else prefix
        prev_label = label
    return out


def _count(sent_tags: List[str], stats: ReadStats) -> None:
    for tag in sent_tags:
        if tag.startswith("B-"):
            stats.entities += 1
            label = tag[2:]
            stats.labels[label] = stats.labels.get(label, 0) + 1


def _read_text(path: PathLike) -> Tuple[Path, str]:
    """Read a UTF-8 file (BOM allowed); NerbertError with the line of a bad byte."""
    p = require_file(path, "data file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise NerbertError(
            f"is not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "re-encode the file as UTF-8",
            p,
            f"line {line}",
        ) from None
    if not text.strip():
        raise NerbertError("is empty", p)
    return p, text


def _split_columns(line: str) -> List[str]:
    if "\t" in line:
        parts = [p.strip() for p in line.split("\t")]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        return parts
    return line.split()


def read_conll(
    path: PathLike,
    *,
    scheme: str = "bio",
    token_col: int = 0,
    tag_col: int = -1,
    min_cols: int = 2,
) -> Tuple[List[Sentence], ReadStats]:
    """Read a column file: one token per line, blank line between sentences.

    Columns are tab-separated when the line has a tab, else whitespace-separated;
    the token is column ``token_col`` and the tag column ``tag_col`` (default:
    last). ``-DOCSTART-`` lines end the current sentence and are skipped.
    Tokens that are empty after stripping (seen in BTC) are dropped when tagged
    ``O`` and counted; an empty token with an entity tag is an error.

    path (str | Path): The file.
    scheme (str): Tag scheme of the file, one of SCHEMES.
    token_col (int): Column index of the token.
    tag_col (int): Column index of the tag.
    min_cols (int): Fewest columns a token line must have.
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences with valid BIO tags, and counts.
    """
    if scheme not in SCHEMES:
        raise NerbertError(f"unknown tag scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    p, text = _read_text(path)
    stats = ReadStats(files=[p.name])
    sentences: List[Sentence] = []
    tokens: List[str] = []
    parsed: List[Tuple[str, str]] = []
    start_line = 0

    def flush() -> None:
        nonlocal tokens, parsed
        if tokens:
            tags = to_bio(parsed, scheme, stats)
            _count(tags, stats)
            sentences.append(Sentence(tokens, tags, p.name, start_line))
            stats.sentences += 1
            stats.tokens += len(tokens)
        elif start_line:
            stats.empty_sentences_dropped += 1
        tokens, parsed = [], []

    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            flush()
            start_line = 0
            continue
        if line.lstrip().startswith(_DOCSTART):
            flush()
            start_line = 0
            stats.docstarts += 1
            continue
        parts = _split_columns(line)
        if len(parts) < min_cols:
            raise NerbertError(
                f"expected at least {min_cols} columns (token ... tag) but found {len(parts)}: {line.strip()[:60]!r}",
                p,
                f"line {lineno}",
            )
        try:
            token, tag = parts[token_col], parts[tag_col]
        except IndexError:
            raise NerbertError(
                f"has no column {token_col} / {tag_col}: {line.strip()[:60]!r}", p, f"line {lineno}"
            ) from None
        try:
            prefix_label = _parse_tag(tag, scheme)
        except ValueError as err:
            raise NerbertError(str(err), p, f"line {lineno}") from None
        if not start_line:
            start_line = lineno
        if not token:
            if prefix_label[0] != "O":
                raise NerbertError(f"empty token with entity tag {tag!r}", p, f"line {lineno}")
            stats.empty_tokens_dropped += 1
            continue
        tokens.append(token)
        parsed.append(prefix_label)
    flush()
    if not sentences:
        raise NerbertError("contains no annotated sentences", p)
    return sentences, stats


def read_iob(path: PathLike, *, scheme: str = "auto") -> Tuple[List[Sentence], ReadStats]:
    """Read spaCy's ``iob`` format: one sentence per line, tokens ``word|tag`` or
    ``word|POS|tag`` separated by spaces (the tag is the last ``|`` field).

    path (str | Path): The file.
    scheme (str): Tag scheme, one of SCHEMES (default "auto": BIO plus E-/S-).
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences with valid BIO tags, and counts.
    """
    p, text = _read_text(path)
    stats = ReadStats(files=[p.name])
    sentences: List[Sentence] = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(_DOCSTART):
            stats.docstarts += 1
            continue
        tokens: List[str] = []
        parsed: List[Tuple[str, str]] = []
        for item in line.split():
            if "|" not in item:
                raise NerbertError(
                    f"token {item[:40]!r} has no '|tag' (expected word|tag or word|POS|tag)", p, f"line {lineno}"
                )
            word, tag = item.split("|", 1)[0], item.rsplit("|", 1)[1]
            if not word:
                raise NerbertError(f"empty word in {item[:40]!r}", p, f"line {lineno}")
            try:
                parsed.append(_parse_tag(tag, scheme))
            except ValueError as err:
                raise NerbertError(str(err), p, f"line {lineno}") from None
            tokens.append(word)
        tags = to_bio(parsed, scheme, stats)
        _count(tags, stats)
        sentences.append(Sentence(tokens, tags, p.name, lineno))
        stats.sentences += 1
        stats.tokens += len(tokens)
    if not sentences:
        raise NerbertError("contains no annotated sentences", p)
    return sentences, stats


def read_jsonl(path: PathLike, *, lang: str = "en") -> Tuple[List[Sentence], ReadStats]:
    """Read character-offset JSONL: ``{"text": ..., "spans": [{"start", "end", "label"}]}``
    per line (Prodigy's shape; ``"tokens"`` with ``text``/``ws`` are used when present,
    else spaCy's tokenizer for ``lang`` tokenises the text).

    A span that does not fall on token boundaries is expanded to the tokens it
    touches (counted in ``spans_expanded``); overlapping spans are an error.

    path (str | Path): The file.
    lang (str): Language code of the tokenizer.
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences with valid BIO tags, and counts.
    """
    import spacy
    from spacy.tokens import Doc
    from spacy.training import biluo_to_iob, offsets_to_biluo_tags

    p, text = _read_text(path)
    stats = ReadStats(files=[p.name])
    nlp = spacy.blank(lang)
    sentences: List[Sentence] = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            record = srsly.json_loads(raw)
        except ValueError as err:
            raise NerbertError(f"is not valid JSON ({err})", p, f"line {lineno}") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise NerbertError('expected an object with a "text" string', p, f"line {lineno}")
        rec_text = record["text"]
        if record.get("tokens"):
            try:
                words = [t["text"] for t in record["tokens"]]
                spaces = [bool(t.get("ws", True)) for t in record["tokens"]]
                doc = Doc(nlp.vocab, words=words, spaces=spaces)
            except (KeyError, TypeError, ValueError) as err:
                raise NerbertError(f'has malformed "tokens" ({err})', p, f"line {lineno}") from None
            if doc.text != rec_text:
                raise NerbertError('"tokens" do not spell out "text"', p, f"line {lineno}")
        else:
            doc = nlp.make_doc(rec_text)
        spans = []
        for span in record.get("spans") or []:
            try:
                start, end, label = int(span["start"]), int(span["end"]), str(span["label"])
            except (KeyError, TypeError, ValueError):
                raise NerbertError(
                    'has a span without integer "start"/"end" and a "label"', p, f"line {lineno}"
                ) from None
            if not (0 <= start < end <= len(rec_text)):
                raise NerbertError(f"span {start}-{end} lies outside the text", p, f"line {lineno}")
            cspan = doc.char_span(start, end, alignment_mode="strict")
            if cspan is None:
                cspan = doc.char_span(start, end, alignment_mode="expand")
                stats.spans_expanded += 1
            spans.append((cspan.start_char, cspan.end_char, normalise_label(label)))
        try:
            biluo = offsets_to_biluo_tags(doc, spans)
        except ValueError as err:
            raise NerbertError(f"has overlapping spans ({str(err).splitlines()[0][:120]})", p, f"line {lineno}") from None
        tags = biluo_to_iob(biluo)
        words = [t.text for t in doc]
        keep = [i for i, w in enumerate(words) if w.strip()]
        if len(keep) < len(words):
            # whitespace tokens made by the tokenizer: drop them (never inside a span)
            if any(tags[i] != "O" for i in range(len(words)) if i not in keep):
                raise NerbertError("an entity span covers only whitespace", p, f"line {lineno}")
            stats.empty_tokens_dropped += len(words) - len(keep)
        if not keep:
            stats.empty_sentences_dropped += 1
            continue
        toks = [words[i] for i in keep]
        tags = [tags[i] for i in keep]
        spcs = [bool(doc[i].whitespace_) or (i + 1 < len(doc) and not doc[i + 1].text.strip()) for i in keep]
        _count(tags, stats)
        sentences.append(Sentence(toks, tags, p.name, lineno, spaces=spcs))
        stats.sentences += 1
        stats.tokens += len(toks)
    if not sentences:
        raise NerbertError("contains no annotated sentences", p)
    return sentences, stats


def read_file(path: PathLike, fmt: str = "auto", *, scheme: Optional[str] = None) -> Tuple[List[Sentence], ReadStats]:
    """Read one file in a generic format.

    path (str | Path): The file.
    fmt (str): "conll", "iob", "jsonl" or "auto" (by extension: .jsonl/.json -> jsonl,
        .iob -> iob, else conll).
    scheme (Optional[str]): Tag scheme override (default: "bio" for conll, "auto" for iob).
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences and counts.
    """
    p = Path(path)
    if fmt == "auto":
        suffix = p.suffix.lower()
        fmt = "jsonl" if suffix in (".jsonl", ".json") else "iob" if suffix == ".iob" else "conll"
    if fmt == "conll":
        return read_conll(p, scheme=scheme or "bio")
    if fmt == "iob":
        return read_iob(p, scheme=scheme or "auto")
    if fmt == "jsonl":
        return read_jsonl(p)
    raise NerbertError(f"unknown format {fmt!r}; use conll, iob or jsonl")


def sentences_to_docs(sentences: Iterable[Sentence], vocab=None):
    """Turn sentences into spaCy Docs with gold ``doc.ents`` (one Doc per sentence).

    sentences (Iterable[Sentence]): Sentences with valid BIO tags.
    vocab (Optional[Vocab]): Vocab to use (a new one by default).
    RETURNS (List[Doc]): The docs; ``doc.user_data["source"]`` is ``file:line``.
    """
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    vocab = vocab if vocab is not None else Vocab()
    docs = []
    for s in sentences:
        spaces = s.spaces if s.spaces is not None else [True] * len(s.tokens)
        if spaces and s.spaces is None:
            spaces[-1] = False
        doc = Doc(vocab, words=s.tokens, spaces=spaces, ents=s.tags)
        doc.user_data["source"] = f"{s.source}:{s.line}"
        docs.append(doc)
    return docs


def docs_to_sentences(docs: Iterable) -> List[Sentence]:
    """The inverse of :func:`sentences_to_docs` (tags from ``doc.ents``).

    docs (Iterable[Doc]): Docs with entities.
    RETURNS (List[Sentence]): One Sentence per doc.
    """
    out = []
    for doc in docs:
        src = str(doc.user_data.get("source", ""))
        name, _, line = src.rpartition(":")
        out.append(
            Sentence(
                [t.text for t in doc],
                doc_bio_tags(doc),
                name,
                int(line) if line.isdigit() else 0,
                spaces=[bool(t.whitespace_) for t in doc],
            )
        )
    return out

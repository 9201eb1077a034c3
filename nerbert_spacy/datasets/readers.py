"""Readers for token-level NER formats: CoNLL-style columns, CoNLL-U (Universal
Dependencies files with NER tags), spaCy's ``iob`` one-sentence-per-line format
and character-offset JSONL.

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
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

import srsly

from ..bio import doc_to_bio
from ..errors import NerbertError, require_file

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


#: The counters of :class:`ReadStats`: what was read, and every change or skip on the way.
COUNTERS = (
    "sentences", "tokens", "entities", "docstarts", "bio_repairs", "io_to_bio", "bioes_to_bio",
    "empty_tokens_dropped", "empty_sentences_dropped", "spans_expanded", "multiword_tokens",
    "empty_nodes", "missing_tags",
)


@dataclass
class ReadStats:
    """What a reader saw and changed. All counters start at zero.

    CoNLL-U only: ``multiword_tokens`` (range lines such as ``3-4 im`` skipped, their
    words kept), ``empty_nodes`` (``5.1`` lines skipped), ``missing_tags`` (words whose
    MISC field has no NER key, read as ``O``).
    """

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
    multiword_tokens: int = 0
    empty_nodes: int = 0
    missing_tags: int = 0
    labels: Dict[str, int] = field(default_factory=dict)

    def add(self, other: "ReadStats") -> "ReadStats":
        """Add the counters of ``other`` into this one (in place) and return self."""
        for name in COUNTERS:
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


def _parse_tag(tag: str, scheme: str, label_fn: Callable[[str], str] = normalise_label) -> Tuple[str, str]:
    """Split a raw tag into (prefix, label); prefix in O/B/I/E/S, the label passed through
    ``label_fn``. Raises ValueError."""
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
        # a B- in IO data is harmless: it marks a start explicitly
        return prefix, label_fn(label)
    if scheme == "io" and tag and not any(c.isspace() for c in tag):
        # bare label in IO data ("PER")
        return "I", label_fn(tag)
    raise ValueError(
        f"invalid tag {tag!r} (expected O, B-<label> or I-<label>"
        + (", E-/S-<label>" if scheme in ("bioes", "auto") else "")
        + ")"
    )


def to_bio(
    parsed: List[Tuple[str, str]], scheme: str, stats: ReadStats, repaired: Optional[List[int]] = None
) -> List[str]:
    """Turn parsed (prefix, label) pairs into valid BIO tags, counting every change.

    parsed (List[Tuple[str, str]]): (prefix, label) per token, prefix in O/B/I/E/S.
    scheme (str): The source scheme ("bio", "io", "bioes", "auto").
    stats (ReadStats): Counters to update (``bio_repairs``, ``io_to_bio``, ``bioes_to_bio``).
    repaired (Optional[List[int]]): Receives the positions of the ``I-``/``E-`` tags that
        open an entity and were read as ``B-`` (the ``bio_repairs``).
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
                    if repaired is not None:
                        repaired.append(len(out) - 1)
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


def read_text(path: PathLike, what: str = "data file", allow_empty: bool = False) -> Tuple[Path, str]:
    """Read a UTF-8 file (BOM allowed); NerbertError with the line of a bad byte, and for
    an empty file unless ``allow_empty``."""
    p = require_file(path, what)
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
    if not text.strip() and not allow_empty:
        raise NerbertError("is empty", p)
    return p, text


def _split_columns(line: str) -> List[str]:
    if "\t" in line:
        parts = [p.strip() for p in line.split("\t")]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        return parts
    return line.split()


#: What a line parser returns for a token line: (token, raw tag, whitespace after the
#: token or None when the format does not say); None for a line to skip.
_TokenLine = Optional[Tuple[str, str, Optional[bool]]]


def _read_token_lines(
    p: Path,
    text: str,
    scheme: str,
    stats: ReadStats,
    parse_line: Callable[[str, int], _TokenLine],
    *,
    label_fn: Callable[[str], str] = normalise_label,
    on_repair: Optional[Callable[[int, str, str], None]] = None,
    require_sentences: bool = True,
) -> List[Sentence]:
    """The loop shared by the column readers: one token per line, a blank line
    between sentences, ``-DOCSTART-`` (as a line or as the token) ends a sentence
    and is skipped, empty ``O`` tokens are dropped and counted. ``on_repair(line,
    raw tag, BIO tag)`` hears of every ``I-``/``E-`` tag read as ``B-``."""
    sentences: List[Sentence] = []
    tokens: List[str] = []
    parsed: List[Tuple[str, str]] = []
    spaces: List[Optional[bool]] = []
    raw_tags: List[Tuple[int, str]] = []  # (line, raw tag) per token, for on_repair
    start_line = 0

    def flush() -> None:
        nonlocal tokens, parsed, spaces, raw_tags
        if tokens:
            repaired: List[int] = []
            tags = to_bio(parsed, scheme, stats, repaired)
            if on_repair is not None:
                for i in repaired:
                    on_repair(raw_tags[i][0], raw_tags[i][1], tags[i])
            _count(tags, stats)
            known = None
            if any(sp is not None for sp in spaces):
                known = [sp is not False for sp in spaces]
                known[-1] = False
            sentences.append(Sentence(tokens, tags, p.name, start_line, spaces=known))
            stats.sentences += 1
            stats.tokens += len(tokens)
        elif start_line:
            stats.empty_sentences_dropped += 1
        tokens, parsed, spaces, raw_tags = [], [], [], []

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
        token_line = parse_line(line, lineno)
        if token_line is None:
            continue
        token, tag, space = token_line
        if token == _DOCSTART:
            flush()
            start_line = 0
            stats.docstarts += 1
            continue
        try:
            prefix_label = _parse_tag(tag, scheme, label_fn)
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
        spaces.append(space)
        raw_tags.append((lineno, tag.strip()))
    flush()
    if not sentences and require_sentences:
        raise NerbertError("contains no annotated sentences", p)
    return sentences


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise NerbertError(f"unknown tag scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


def _column(parts: List[str], col: int, what: str, line: str, p: Path, lineno: int) -> str:
    try:
        return parts[col]
    except IndexError:
        raise NerbertError(
            f"has no {what} column {col} (the line has {len(parts)} columns): {line.strip()[:60]!r}",
            p,
            f"line {lineno}",
        ) from None


#: How many sentences :func:`_refuse_index_tokens` looks at.
_INDEX_SAMPLE = 20


def _refuse_index_tokens(text: str, p: Path, token_col: int) -> None:
    """Refuse a token column that holds token indices (CoNLL-U's ID column): most
    tokens of the first sentences are consecutive integers counting from 0 or 1.
    Lines starting with ``#`` (CoNLL-U comments) are left out of the count."""
    total = hits = sentences = 0
    expected: Optional[int] = None
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            if expected is not None:
                sentences += 1
                if sentences >= _INDEX_SAMPLE:
                    break
            expected = None
            continue
        if line.startswith("#"):
            continue
        parts = _split_columns(line)
        if not -len(parts) <= token_col < len(parts):
            continue
        token = parts[token_col]
        total += 1
        if token.isdigit():
            n = int(token)
            if (expected is None and n in (0, 1)) or n == expected:
                hits += 1
            expected = n + 1
        elif expected is None:
            expected = -1  # inside a sentence that does not start with an index
    if total >= 3 and hits * 2 > total:
        raise NerbertError(
            f"column {token_col} holds token indices ({hits} of the first {total} tokens count 1, 2, 3, ...), "
            "not words; for CoNLL-U use the conllu format (nerbert data convert conllu, or a .conllu file name), "
            "for other layouts choose the columns with --token-column N --tag-column N (token_col / tag_col, "
            "counted from 0)",
            p,
        )


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
    last), both counted from 0. ``-DOCSTART-`` lines (or tokens) end the current
    sentence and are skipped. Tokens that are empty after stripping (seen in BTC)
    are dropped when tagged ``O`` and counted; an empty token with an entity tag is
    an error. A token column that holds token indices (CoNLL-U read as plain
    columns) is refused. Labels are normalised (:func:`normalise_label`).

    path (str | Path): The file.
    scheme (str): Tag scheme of the file, one of SCHEMES.
    token_col (int): Column index of the token.
    tag_col (int): Column index of the tag.
    min_cols (int): Fewest columns a token line must have.
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences with valid BIO tags, and counts.
    """
    _check_scheme(scheme)
    p, text = read_text(path)
    _refuse_index_tokens(text, p, token_col)
    return parse_conll(p, text, scheme=scheme, token_col=token_col, tag_col=tag_col, min_cols=min_cols)


def parse_conll(
    p: Path,
    text: str,
    *,
    scheme: str = "bio",
    token_col: int = 0,
    tag_col: int = -1,
    min_cols: int = 2,
    label_fn: Callable[[str], str] = normalise_label,
    comments: bool = False,
    on_repair: Optional[Callable[[int, str, str], None]] = None,
    require_sentences: bool = True,
) -> Tuple[List[Sentence], ReadStats]:
    """The CoNLL column parser behind :func:`read_conll` and the CoNLL import of
    ``nerbert export`` (:func:`nerbert_spacy.export.conll.read`).

    p (Path): The file the text came from (named in errors and in the sentences).
    text (str): Its text.
    scheme, token_col, tag_col, min_cols: As for :func:`read_conll`.
    label_fn (Callable[[str], str]): Applied to every label (default
        :func:`normalise_label`; the identity keeps labels as written).
    comments (bool): Skip one-column lines that start with ``#``.
    on_repair (Optional[Callable[[int, str, str], None]]): Called with (line, raw tag,
        BIO tag) for every ``I-``/``E-`` tag that opens an entity and is read as ``B-``.
    require_sentences (bool): Raise NerbertError when the text has no sentence.
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences with valid BIO tags, and counts.
    """
    stats = ReadStats(files=[p.name])

    def parse_line(line: str, lineno: int) -> _TokenLine:
        parts = _split_columns(line)
        if len(parts) < min_cols:
            if comments and len(parts) == 1 and line.startswith("#"):
                return None
            raise NerbertError(
                f"expected at least {min_cols} columns (token ... tag) but found {len(parts)}: {line.strip()[:60]!r}",
                p,
                f"line {lineno}",
            )
        token = _column(parts, token_col, "token", line, p, lineno)
        return token, _column(parts, tag_col, "tag", line, p, lineno), None

    sentences = _read_token_lines(
        p, text, scheme, stats, parse_line, label_fn=label_fn, on_repair=on_repair, require_sentences=require_sentences
    )
    return sentences, stats


#: MISC keys that hold the NER tag in CoNLL-U files (``NER=B-PER``), first match wins.
CONLLU_TAG_KEYS = ("NER", "NE", "Entity", "name")
_CONLLU_COLUMNS = 10
_MISC = 9
_RANGE_ID = re.compile(r"^\d+-\d+$")  # a multi-word token line: "3-4 im"
_EMPTY_NODE_ID = re.compile(r"^\d+\.\d+$")  # an empty node: "5.1"


def _misc_fields(misc: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    if misc in ("", "_"):
        return out
    for item in misc.split("|"):
        key, sep, value = item.partition("=")
        if sep:
            out.setdefault(key, value)
    return out


def read_conllu(
    path: PathLike,
    *,
    scheme: str = "bio",
    token_col: int = 1,
    tag_col: Optional[int] = None,
) -> Tuple[List[Sentence], ReadStats]:
    """Read CoNLL-U with NER tags: ten columns ``ID FORM LEMMA UPOS XPOS FEATS HEAD
    DEPREL DEPS MISC`` (tab-separated), the word in FORM.

    The tag is read from an 11th column when the line has one, else from the MISC
    field (``NER=B-PER``, or the keys ``NE``, ``Entity``, ``name``; a word without
    such a key is ``O``, counted as ``missing_tags``); ``tag_col`` names the column
    instead. ``#`` lines are comments; multi-word token lines (``3-4 im``) are
    skipped and their words (``in``, ``dem``) kept; empty nodes (``5.1``) are
    skipped; ``SpaceAfter=No`` is kept as the token's whitespace; ``-DOCSTART-``
    as the word ends a sentence and is skipped.

    path (str | Path): The file.
    scheme (str): Tag scheme of the tags, one of SCHEMES.
    token_col (int): Column index of the word (default 1, FORM).
    tag_col (Optional[int]): Column index of the tag (default: the 11th column, else MISC).
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences with valid BIO tags, and counts.
    """
    _check_scheme(scheme)
    p, text = read_text(path)
    _refuse_index_tokens(text, p, token_col)
    stats = ReadStats(files=[p.name])
    found = [0]  # words whose tag was found (MISC key or column)

    def parse_line(line: str, lineno: int) -> _TokenLine:
        if line.startswith("#"):
            return None
        parts = _split_columns(line)
        if _RANGE_ID.match(parts[0]):
            stats.multiword_tokens += 1
            return None
        if _EMPTY_NODE_ID.match(parts[0]):
            stats.empty_nodes += 1
            return None
        token = _column(parts, token_col, "token", line, p, lineno)
        misc = _misc_fields(parts[_MISC]) if len(parts) > _MISC else {}
        space = misc.get("SpaceAfter") != "No"
        if tag_col is not None or len(parts) > _CONLLU_COLUMNS:
            found[0] += 1
            col = tag_col if tag_col is not None else _CONLLU_COLUMNS
            return token, _column(parts, col, "tag", line, p, lineno), space
        if len(parts) < _CONLLU_COLUMNS:
            raise NerbertError(
                f"expected the {_CONLLU_COLUMNS} CoNLL-U columns but found {len(parts)}: {line.strip()[:60]!r} "
                "(for other layouts choose the columns with --token-column N --tag-column N)",
                p,
                f"line {lineno}",
            )
        for key in CONLLU_TAG_KEYS:
            if key in misc:
                found[0] += 1
                return token, misc[key], space
        stats.missing_tags += 1
        return token, "O", space

    sentences = _read_token_lines(p, text, scheme, stats, parse_line)
    if not found[0]:
        raise NerbertError(
            f"has no NER tags: expected {'=, '.join(CONLLU_TAG_KEYS)}= in the MISC column or an 11th column; "
            "for other layouts choose the columns with --token-column N --tag-column N",
            p,
        )
    return sentences, stats


def read_iob(path: PathLike, *, scheme: str = "auto") -> Tuple[List[Sentence], ReadStats]:
    """Read spaCy's ``iob`` format: one sentence per line, tokens ``word|tag`` or
    ``word|POS|tag`` separated by spaces (the tag is the last ``|`` field).

    path (str | Path): The file.
    scheme (str): Tag scheme, one of SCHEMES (default "auto": BIO plus E-/S-).
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences with valid BIO tags, and counts.
    """
    p, text = read_text(path)
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

    p, text = read_text(path)
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


#: The generic formats :func:`read_file` reads.
FORMATS = ("conll", "conllu", "iob", "jsonl")


def read_file(
    path: PathLike,
    fmt: str = "auto",
    *,
    scheme: Optional[str] = None,
    token_col: Optional[int] = None,
    tag_col: Optional[int] = None,
) -> Tuple[List[Sentence], ReadStats]:
    """Read one file in a generic format.

    path (str | Path): The file.
    fmt (str): "conll", "conllu", "iob", "jsonl" or "auto" (by extension: .jsonl/.json ->
        jsonl, .iob -> iob, .conllu -> conllu, else conll). A ``.conllu`` file is read as
        CoNLL-U under the format "conll" too.
    scheme (Optional[str]): Tag scheme override (default: "bio" for conll/conllu, "auto" for iob).
    token_col (Optional[int]): Token column, counted from 0 (conll: 0, conllu: 1 = FORM).
    tag_col (Optional[int]): Tag column, counted from 0 (conll: last, conllu: the 11th or MISC).
    RETURNS (Tuple[List[Sentence], ReadStats]): Sentences and counts.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if fmt == "auto":
        fmt = {".jsonl": "jsonl", ".json": "jsonl", ".iob": "iob", ".conllu": "conllu"}.get(suffix, "conll")
    if fmt == "conll" and suffix == ".conllu":
        fmt = "conllu"
    if fmt not in FORMATS:
        raise NerbertError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    columns = {k: v for k, v in (("token_col", token_col), ("tag_col", tag_col)) if v is not None}
    if columns and fmt not in ("conll", "conllu"):
        raise NerbertError(f"token_col/tag_col are for the conll and conllu formats, not {fmt}", p)
    if fmt == "conll":
        return read_conll(p, scheme=scheme or "bio", **columns)
    if fmt == "conllu":
        return read_conllu(p, scheme=scheme or "bio", **columns)
    if fmt == "iob":
        return read_iob(p, scheme=scheme or "auto")
    return read_jsonl(p)


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
                doc_to_bio(doc),
                name,
                int(line) if line.isdigit() else 0,
                spaces=[bool(t.whitespace_) for t in doc],
            )
        )
    return out

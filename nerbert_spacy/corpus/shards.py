"""Shard I/O of the corpus build: DocBins written, read and filtered without a Doc per sentence.

Every shard is read and written here (:func:`read_doc_bin`, :func:`load_docs`,
:func:`write_doc_bin`, :func:`write_docs`), inside :func:`fast_msgpack`, which makes srsly's
msgpack encoder/decoder look-ups cheap for as long as the shard I/O lasts and puts srsly's
registries back as they were afterwards.

spaCy's ``DocBin.add`` walks every token of a Doc in Python to collect its strings, and
reading a shard back means one ``Doc`` per sentence; for the corpus build these were a
large part of the time. Here:

- :func:`add_doc` fills a ``DocBin`` from the Doc's token array: the strings are those of
  the distinct hashes in its string-valued columns (plus span labels and ids), the same set
  ``DocBin.add`` collects for Docs without lemmas (the corpus never sets lemmas; a Doc with
  lemmas goes through ``DocBin.add``);
- :func:`add_row` appends the row of a Doc that is never made: its tokens given as a token
  array (e.g. a slice of its paragraph's), its spans and entities as token ranges;
- :func:`entity_label_lists` reads the entity labels of every stored Doc from the arrays
  (a ``B`` tag with a type starts an entity, as in ``Doc.ents``);
- :func:`select_docs` copies some of a DocBin's rows into a new DocBin, with exactly the
  strings ``DocBin.add`` would have collected for those Docs, so a filtered shard has the
  same bytes as one written Doc by Doc.

Everything writes the ``DocBin`` format of the installed spaCy through its own
``to_bytes``; ``tests/test_corpus_shards.py`` checks the bytes against ``DocBin.add``.
"""

import struct
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Dict, Iterable, Iterator, List, Sequence, Set, Tuple, Union

import numpy
import srsly
from spacy.attrs import ENT_ID, ENT_IOB, ENT_KB_ID, ENT_TYPE, IDS, LEMMA, SENT_START
from spacy.tokens import Doc, DocBin

from ..errors import NerbertError
from ..util import atomic_path

__all__ = [
    "add_doc",
    "add_row",
    "doc_bin_of",
    "entity_label_lists",
    "fast_msgpack",
    "load_docs",
    "read_doc_bin",
    "select_docs",
    "write_doc_bin",
    "write_doc_bin_file",
    "write_docs",
    "STRING_ATTRS",
]

PathLike = Union[str, Path]

#: DocBin columns whose values are string hashes (``DocBin.add`` stores their strings).
STRING_ATTRS = ("ORTH", "NORM", "LEMMA", "TAG", "DEP", "ENT_TYPE", "ENT_KB_ID", "ENT_ID", "MORPH")
_SPAN = struct.Struct(">QQQllll")  # id, kb_id, label, start, end, start_char, end_char (SpanGroup.to_bytes)


def _string_columns(doc_bin: DocBin) -> List[int]:
    """The DocBin's string-valued columns (remembered on the DocBin)."""
    columns = doc_bin.__dict__.get("_string_columns")
    if columns is None or doc_bin.__dict__.get("_string_columns_of") != doc_bin.attrs:
        wanted = {IDS[name] for name in STRING_ATTRS}
        columns = [i for i, attr in enumerate(doc_bin.attrs) if attr in wanted]
        doc_bin.__dict__.update(_string_columns=columns, _string_columns_of=list(doc_bin.attrs))
    return columns


_PACKER: Any = None


def _pack(obj: Any) -> bytes:
    """``srsly.msgpack_dumps(obj)`` for plain data (dicts, lists, str, bytes, numbers), with one
    reused packer (the same bytes; srsly builds a new packer per call)."""
    global _PACKER
    if _PACKER is None:
        _PACKER = srsly.msgpack.Packer(use_bin_type=True)
    return _PACKER.pack(obj)


def add_doc(doc_bin: DocBin, doc: Doc) -> None:
    """``doc_bin.add(doc)``, with the strings taken from the token array (same result).

    doc_bin (DocBin): The DocBin to extend.
    doc (Doc): A Doc without lemmas (with lemmas, ``DocBin.add`` is used).
    """
    if LEMMA not in doc_bin.attrs and doc.has_annotation("LEMMA"):
        doc_bin.add(doc)
        return
    array = doc.to_array(doc_bin.attrs)
    if len(array.shape) == 1:
        array = array.reshape((array.shape[0], 1))
    doc_bin.tokens.append(array)
    doc_bin.spaces.append(numpy.asarray(doc.to_array("SPACY"), dtype=bool).reshape((len(doc), 1)))
    doc_bin.flags.append({"has_unknown_spaces": doc.has_unknown_spaces})
    strings = doc.vocab.strings
    extra = []
    for group in doc.spans.values():
        for span in group:
            extra.append(span.label_)
            if span.kb_id in strings:
                extra.append(span.kb_id_)
            if span.id in strings:
                extra.append(span.id_)
    _add_strings(doc_bin, strings, array, extra)
    doc_bin.cats.append(doc.cats)
    if doc_bin.store_user_data:
        doc_bin.user_data.append(srsly.msgpack_dumps(doc.user_data))
    doc_bin.span_groups.append(doc.spans.to_bytes())


def _add_strings(doc_bin: DocBin, strings: Any, array: Any, extra: Iterable[str]) -> None:
    """Store the strings of the array's string columns (looked up in ``strings``) and ``extra``."""
    from spacy.strings import get_string_id

    seen = doc_bin.__dict__.setdefault("_keys_seen", set())  # hashes whose string is stored
    for text in extra:
        doc_bin.strings.add(text)
        seen.add(get_string_id(text))
    if len(array):
        doc_bin.strings.add("")  # tag_, lemma_, dep_, morph of an unset attribute
        keys = set()
        for column in _string_columns(doc_bin):
            keys.update(array[:, column].tolist())
        keys -= seen
        doc_bin.strings.update(strings[key] for key in keys)
        seen.update(keys)


Span = Tuple[int, int, str, str]  # start token, end token, label, kb_id


def add_row(
    doc_bin: DocBin,
    strings: Any,
    array: Any,
    spaces: Sequence[bool],
    char_starts: Sequence[int],
    char_ends: Sequence[int],
    span_groups: Dict[str, List[Span]],
    ents: Sequence[Span],
    user_data: Dict[str, Any],
) -> None:
    """Append the row ``DocBin.add`` would append for a Doc with these tokens, span groups
    (all keys kept, ``span.id`` 0), entities (``set_ents(..., default="outside")``) and user
    data, without making the Doc.

    doc_bin (DocBin): The DocBin to extend.
    strings (StringStore): Knows the tokens' strings (the tokenizer's vocab).
    array (numpy.ndarray): The tokens' values for ``doc_bin.attrs``, as ``Doc.to_array`` gives
        them for a Doc without entities (e.g. a slice of the paragraph's array).
    spaces (Sequence[bool]): Whether each token is followed by a space.
    char_starts, char_ends (Sequence[int]): Char offsets of each token in the Doc's text.
    span_groups (Dict[str, List[Span]]): Span group name -> (start, end, label, kb_id).
    ents (Sequence[Span]): The entities (non-overlapping, in order).
    user_data (Dict[str, Any]): ``doc.user_data``.
    """
    from spacy.strings import get_string_id

    array = array.copy()
    cols = doc_bin.__dict__.get("_columns")
    if cols is None:
        cols = doc_bin.__dict__["_columns"] = {attr: i for i, attr in enumerate(doc_bin.attrs)}
    if SENT_START in cols and len(array):
        array[:, cols[SENT_START]] = 0
        array[0, cols[SENT_START]] = 1  # a Doc's first token starts its sentence
    if ENT_IOB in cols:
        array[:, cols[ENT_IOB]] = 2  # "O"
    for attr in (ENT_TYPE, ENT_KB_ID, ENT_ID):
        if attr in cols:
            array[:, cols[attr]] = 0
    for start, end, label, kb_id in ents:
        if ENT_IOB in cols:
            array[start, cols[ENT_IOB]] = 3
            array[start + 1 : end, cols[ENT_IOB]] = 1
        for attr, value in ((ENT_TYPE, label), (ENT_KB_ID, kb_id)):
            if attr in cols:
                array[start:end, cols[attr]] = get_string_id(value)
    doc_bin.tokens.append(array)
    doc_bin.spaces.append(numpy.asarray(spaces, dtype=bool).reshape((len(spaces), 1)))
    doc_bin.flags.append({"has_unknown_spaces": False})
    _add_strings(doc_bin, strings, array, (t for group in span_groups.values() for _, _, *ids in group for t in ids))
    doc_bin.cats.append({})
    if doc_bin.store_user_data:
        doc_bin.user_data.append(_pack(user_data))
    groups: Dict[bytes, List[str]] = {}
    for name, spans in span_groups.items():
        packed = [
            _SPAN.pack(0, get_string_id(kb_id), get_string_id(label), s, e, char_starts[s], char_ends[e - 1])
            for s, e, label, kb_id in spans
        ]
        groups.setdefault(_pack({"name": name, "attrs": {}, "spans": packed}), []).append(name)
    doc_bin.span_groups.append(_pack(groups) if groups else _pack([]))


def _hashes(doc_bin: DocBin) -> Dict[int, str]:
    from spacy.strings import get_string_id

    return {get_string_id(s): s for s in doc_bin.strings}


def entity_label_lists(doc_bin: DocBin) -> List[List[str]]:
    """The labels of ``doc.ents`` of every Doc in the DocBin, without making the Docs.

    doc_bin (DocBin): A DocBin whose attrs include ENT_IOB and ENT_TYPE.
    RETURNS (List[List[str]]): One list per Doc, entities in order.
    """
    names = _hashes(doc_bin)
    iob, typ = doc_bin.attrs.index(ENT_IOB), doc_bin.attrs.index(ENT_TYPE)
    out = []
    for tokens in doc_bin.tokens:
        types = tokens[:, typ][(tokens[:, iob] == 3) & (tokens[:, typ] != 0)]
        out.append([names[t] for t in types.tolist()])
    return out


def _span_strings(data: bytes, names: Dict[int, str]) -> Set[str]:
    """Strings ``DocBin.add`` stores for the spans of serialised span groups."""
    if not data:
        return set()
    out: Set[str] = set()
    for group in srsly.msgpack_loads(data):  # {group bytes: keys}, or a list of group bytes
        for packed in srsly.msgpack_loads(group)["spans"]:
            span_id, kb_id, label = _SPAN.unpack(packed)[:3]
            out.add(names[label])
            for key in (kb_id, span_id):
                if key in names:
                    out.add(names[key])
    return out


def select_docs(doc_bin: DocBin, indices: Iterable[int]) -> DocBin:
    """A new DocBin with the Docs ``indices`` of ``doc_bin``, in that order.

    The strings are exactly those ``DocBin.add`` would collect for these Docs read back with
    ``doc_bin``'s strings (Docs without lemmas, as the corpus writes them).

    doc_bin (DocBin): The source (e.g. a raw shard read with ``DocBin().from_disk``).
    indices (Iterable[int]): Positions of the Docs to keep.
    RETURNS (DocBin): The selection, ready for ``to_disk``.
    """
    out = DocBin(store_user_data=doc_bin.store_user_data)
    out.attrs = list(doc_bin.attrs)
    names = _hashes(doc_bin)
    columns = _string_columns(doc_bin)
    keys: Set[int] = set()
    for i in indices:
        tokens = doc_bin.tokens[i]
        out.tokens.append(tokens)
        out.spaces.append(doc_bin.spaces[i])
        out.cats.append(doc_bin.cats[i])
        out.flags.append(doc_bin.flags[i])
        out.span_groups.append(doc_bin.span_groups[i])
        if doc_bin.store_user_data:
            out.user_data.append(doc_bin.user_data[i] if i < len(doc_bin.user_data) else None)
        if len(tokens):
            keys.update(numpy.unique(tokens[:, columns]).tolist())
            keys.add(0)
        out.strings.update(_span_strings(doc_bin.span_groups[i], names))
    out.strings.update(names[k] for k in keys if k in names)
    if 0 in keys:
        out.strings.add("")
    return out


def _bin_header(n: int) -> bytes:
    """The msgpack header of a ``bin`` value of ``n`` bytes (``use_bin_type=True``)."""
    if n < 1 << 8:
        return b"\xc4" + n.to_bytes(1, "big")
    if n < 1 << 16:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def write_doc_bin_file(doc_bin: DocBin, file: BinaryIO) -> None:
    """Write ``doc_bin.to_bytes()`` to an open file without holding it in memory.

    ``DocBin.to_bytes`` stacks every token array, copies the stack into bytes, packs the whole
    message, then compresses it: about four times the size of the rows at once, which made the
    peak memory of a worker. Here the message is packed piece by piece (a msgpack map is its
    header followed by its keys and values) and every row's bytes go straight into a zlib
    stream, which compresses a byte sequence the same way however it is cut (no flush until
    the end). The file gets the same bytes (tested against ``DocBin.to_bytes``).

    doc_bin (DocBin): Rows of uint64 token arrays (as ``Doc.to_array`` and ``from_bytes`` give).
    file (BinaryIO): Opened for writing in binary mode.
    """
    if any(t.dtype != numpy.uint64 or len(t.shape) != 2 for t in doc_bin.tokens):
        file.write(doc_bin.to_bytes())
        return
    z = zlib.compressobj()
    write = file.write

    def feed(data: bytes) -> None:
        out = z.compress(data)
        if out:
            write(out)

    def stream(name: str, arrays: Sequence[numpy.ndarray]) -> None:
        feed(_pack(name) + _bin_header(sum(a.nbytes for a in arrays)))
        for array in arrays:
            feed(array.tobytes("C"))

    fields = 10 if doc_bin.store_user_data else 9
    feed(bytes([0x80 | fields]) + _pack("version") + _pack(doc_bin.version) + _pack("attrs") + _pack(doc_bin.attrs))
    stream("tokens", doc_bin.tokens)
    stream("spaces", [numpy.asarray(s, dtype=bool) for s in doc_bin.spaces])
    lengths = numpy.asarray([len(t) for t in doc_bin.tokens], dtype="int32")
    feed(_pack("lengths") + _pack(lengths.tobytes("C")) + _pack("strings") + _pack(sorted(doc_bin.strings)))
    for name in ("cats", "flags", "span_groups") + (("user_data",) if doc_bin.store_user_data else ()):
        feed(_pack(name) + _pack(getattr(doc_bin, name)))
    write(z.flush())


def doc_bin_of(docs: Sequence[Doc], store_user_data: bool = True) -> DocBin:
    """A DocBin of these Docs filled with :func:`add_doc`."""
    doc_bin = DocBin(store_user_data=store_user_data)
    for doc in docs:
        add_doc(doc_bin, doc)
    return doc_bin


# ---------------------------------------------------------------- shard files

_MSGPACK_LOCK = threading.Lock()
_MSGPACK_DEPTH = 0


def _msgpack_registries() -> Tuple[Any, Any]:
    from srsly import _msgpack_api

    return _msgpack_api.msgpack_encoders, _msgpack_api.msgpack_decoders


def _cached_get_all(registry: Any) -> Any:
    """``registry.get_all`` answered from a cache that is recomputed whenever catalogue's
    global registry changes size (so an encoder registered meanwhile is still seen)."""
    import catalogue

    original = registry.get_all
    state: Dict[str, Any] = {"size": -1, "value": {}}

    def get_all() -> Dict[str, Any]:
        size = len(catalogue.REGISTRY)
        if size != state["size"]:
            state["value"] = original()
            state["size"] = size
        return dict(state["value"])

    return get_all


@contextmanager
def fast_msgpack() -> Iterator[None]:
    """Make srsly's msgpack encoder/decoder look-ups cheap while the block runs.

    ``srsly.msgpack`` calls ``get_all()`` on two catalogue registries for every pack/unpack:
    a rescan of every installed distribution's entry points plus a copy of catalogue's global
    registry (thousands of entries once spaCy is loaded), milliseconds per call and several
    calls per Doc (span groups, user data): more than half of the corpus build's time. Inside
    this block ``get_all`` is answered from a cache (recomputed whenever catalogue's registry
    grows); the encoders and decoders are the same, in the same order, so the bytes are too.
    On leaving the outermost block the registries are exactly as before: nothing is
    registered, and the cached ``get_all`` is removed. Nested and concurrent (threads) blocks
    share one patch.
    """
    global _MSGPACK_DEPTH
    with _MSGPACK_LOCK:
        if _MSGPACK_DEPTH == 0:
            for registry in _msgpack_registries():
                registry.get_all = _cached_get_all(registry)
        _MSGPACK_DEPTH += 1
    try:
        yield
    finally:
        with _MSGPACK_LOCK:
            _MSGPACK_DEPTH -= 1
            if _MSGPACK_DEPTH == 0:
                for registry in _msgpack_registries():
                    registry.__dict__.pop("get_all", None)


_VOCAB: Any = None


def _vocab() -> Any:
    global _VOCAB
    if _VOCAB is None:
        from spacy.vocab import Vocab

        _VOCAB = Vocab()
    return _VOCAB


def read_doc_bin(path: PathLike) -> DocBin:
    """Read a shard (``.spacy``) as a DocBin; a corrupt file is a NerbertError naming it.

    path (str | Path): The shard.
    RETURNS (DocBin): Its rows (with user data).
    """
    path = Path(path)
    with fast_msgpack():
        try:
            return DocBin(store_user_data=True).from_disk(path)
        except Exception as err:  # a corrupt shard is bad input, not a crash
            raise NerbertError(f"not a readable DocBin ({err})", path) from err


def load_docs(path: PathLike) -> Iterator[Doc]:
    """The Docs of a shard (``.spacy``), in file order (all decoded before the first is returned).

    path (str | Path): The shard.
    RETURNS (Iterator[Doc]): Its Docs, over one shared Vocab.
    """
    with fast_msgpack():
        docs = list(read_doc_bin(path).get_docs(_vocab()))
    return iter(docs)


def write_doc_bin(path: PathLike, doc_bin: DocBin) -> int:
    """Write a DocBin to a shard atomically: the bytes of ``DocBin.to_disk``, without its
    peak memory (:func:`write_doc_bin_file`).

    path (str | Path): The shard.
    doc_bin (DocBin): Its rows.
    RETURNS (int): The number of Docs written.
    """
    with fast_msgpack(), atomic_path(path) as tmp, open(tmp, "wb") as f:
        write_doc_bin_file(doc_bin, f)
    return len(doc_bin)


def write_docs(path: PathLike, docs: Iterable[Doc]) -> int:
    """Write Docs to a shard atomically (rows added with :func:`add_doc`).

    path (str | Path): The shard.
    docs (Iterable[Doc]): The Docs.
    RETURNS (int): The number of Docs written.
    """
    with fast_msgpack():
        doc_bin = DocBin(store_user_data=True)
        for doc in docs:
            add_doc(doc_bin, doc)
        return write_doc_bin(path, doc_bin)

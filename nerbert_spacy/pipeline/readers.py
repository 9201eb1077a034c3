"""``nerbert.ShardedCorpus.v1``: stream a directory of ``.spacy`` shards lazily, resumably.

For pretraining at scale: only one shard is in memory at a time. With
``shuffle = true`` the shard order and the order of documents inside each
shard change every epoch (every call), deterministically for a seed. Use it
with ``[training] max_epochs = -1`` so that ``spacy train`` streams instead of
loading the whole corpus (spaCy calls the reader once per epoch then).

**Position in the stream.** After every example it yields, the reader knows
where the epoch stands (:class:`StreamPosition`: epoch, index of the shard in
the epoch's order, index of the document in the shard's order, examples of
that document already yielded, examples yielded in the epoch). Because both
orders follow from ``(seed, epoch)`` alone, a position is enough to continue an
epoch in another process: the shards before it are skipped without being
opened, the current shard is read and the documents before the position are
skipped.

With ``checkpoint`` set to the folder of ``nerbert.checkpoint_resume.v2``
(``${paths.checkpoint}`` in ``configs/pretrain.cfg``):

* at its first call the reader starts at the position recorded in that
  checkpoint (``nerbert_checkpoint.json``, key ``stream``), if there is one,
  after checking that the shards (names and sizes) and the reader's settings
  are those of the recorded run; a checkpoint without a position (written by
  ``nerbert.checkpoint_resume.v1``) starts the epoch at its beginning;
* it makes itself known to that callback through the ``nlp`` object it is
  called with (:func:`stream_for_checkpoint`), so the callback can record the
  position of the batch whose update it precedes.

Without ``checkpoint`` (the default, and old configs) the reader behaves as
before: every run starts at epoch 0.
"""
import hashlib
import json
import os
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Union

from spacy.attrs import ORTH, SPACY
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import registry

from ..corpus.shards import fast_msgpack
from ..errors import NerbertError
from ..util import make_rng

__all__ = ["ShardedCorpus", "StreamPosition", "create_sharded_corpus", "read_shard_docs", "stream_for_checkpoint"]


class StreamPosition(NamedTuple):
    """Where an epoch of a :class:`ShardedCorpus` stands: everything before it was yielded.

    epoch (int): The epoch (the reader's own count, over resumed runs).
    shard (int): Index of the current shard in the epoch's shard order.
    doc (int): Index of the current document in that shard's document order.
    example (int): Examples of that document already yielded.
    examples (int): Examples yielded in the epoch so far (``limit`` counts these).
    """

    epoch: int
    shard: int = 0
    doc: int = 0
    example: int = 0
    examples: int = 0


# nlp -> {absolute checkpoint path -> the reader that reports to it}; weak, so a
# pipeline that is gone takes its readers with it.
_STREAMS: "weakref.WeakKeyDictionary[Language, Dict[str, ShardedCorpus]]" = weakref.WeakKeyDictionary()


def _checkpoint_key(path: Union[str, Path]) -> str:
    return os.path.abspath(os.fspath(path))


def stream_for_checkpoint(nlp: Language, checkpoint: Union[str, Path]) -> Optional["ShardedCorpus"]:
    """The reader last called with ``nlp`` whose ``checkpoint`` setting is ``checkpoint``.

    nlp (Language): The pipeline being trained.
    checkpoint (str | Path): The checkpoint folder of the callback.
    RETURNS (Optional[ShardedCorpus]): The reader, or None when no such reader was called.
    """
    return _STREAMS.get(nlp, {}).get(_checkpoint_key(checkpoint))


@registry.readers("nerbert.ShardedCorpus.v1")
def create_sharded_corpus(
    path: Optional[Union[str, Path]],
    *,
    shuffle: bool = False,
    seed: int = 0,
    gold_preproc: bool = False,
    max_length: int = 0,
    limit: int = 0,
    augmenter: Optional[Callable] = None,
    checkpoint: Optional[Union[str, Path]] = None,
) -> Callable[[Language], Iterable[Example]]:
    """Create a streaming reader over ``.spacy`` shards.

    path (Optional[str | Path]): A ``.spacy`` file or a directory searched
        recursively for ``*.spacy`` (sorted by path).
    shuffle (bool): Shuffle shard order and documents within a shard, anew
        each epoch.
    seed (int): Seed of the shuffling (epoch ``e`` uses ``make_rng(seed, e, ...)``).
    gold_preproc (bool): Use the reference tokenization (and sentences, where
        annotated) for the predicted docs, like ``spacy.Corpus.v1``.
    max_length (int): Skip documents (or, with ``gold_preproc``, sentences)
        longer than this many tokens; 0 = no limit. Skips are counted in
        ``reader.stats["skipped_long"]``.
    limit (int): Stop after this many examples per epoch; 0 = no limit.
    augmenter (Optional[Callable]): A spaCy augmenter, applied to each example.
    checkpoint (Optional[str | Path]): The folder of ``nerbert.checkpoint_resume.v2``:
        the first epoch continues at the position recorded there, and the
        callback records this reader's position; ``null`` = neither.
    RETURNS (Callable[[Language], Iterable[Example]]): The reader.
    """
    if path is None:
        raise NerbertError("nerbert.ShardedCorpus.v1 needs a path (set paths.train)")
    if isinstance(checkpoint, str) and checkpoint.strip().lower() in ("", "null", "none"):
        checkpoint = None
    return ShardedCorpus(
        path,
        shuffle=shuffle,
        seed=seed,
        gold_preproc=gold_preproc,
        max_length=max_length,
        limit=limit,
        augmenter=augmenter,
        checkpoint=checkpoint,
    )


class ShardedCorpus:
    """Iterate Examples from ``.spacy`` shards, one shard in memory at a time.

    Attributes after a call: ``position`` (:class:`StreamPosition` after the last
    example yielded; the next epoch's start once an epoch is exhausted),
    ``start_position`` (where the first call started), ``resumed_from`` (the
    checkpoint folder it continued, or None) and ``resumed_record`` (the record
    read there).
    """

    def __init__(
        self,
        path: Union[str, Path],
        *,
        shuffle: bool = False,
        seed: int = 0,
        gold_preproc: bool = False,
        max_length: int = 0,
        limit: int = 0,
        augmenter: Optional[Callable] = None,
        checkpoint: Optional[Union[str, Path]] = None,
    ) -> None:
        self.path = Path(path)
        self.shuffle = shuffle
        self.seed = seed
        self.gold_preproc = gold_preproc
        self.max_length = max_length
        self.limit = limit
        self.augmenter = augmenter
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.epoch = 0
        self.position = StreamPosition(0)
        self.start_position: Optional[StreamPosition] = None
        self.resumed_from: Optional[Path] = None
        self.resumed_record: Optional[Dict[str, Any]] = None
        self.stats = {"shards": 0, "docs": 0, "examples": 0, "skipped_empty": 0, "skipped_long": 0}

    def shards(self) -> List[Path]:
        """RETURNS (List[Path]): The shard files, sorted."""
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise NerbertError("training corpus not found (expected a .spacy file or a directory of them)", self.path)
        found = sorted(p for p in self.path.rglob("*.spacy") if p.is_file() and not p.name.startswith(".tmp-"))
        if not found:
            raise NerbertError("directory has no .spacy shards", self.path)
        return found

    def epoch_order(self, epoch: int, shards: Optional[List[Path]] = None) -> List[Path]:
        """The shards in the order epoch ``epoch`` reads them.

        epoch (int): The epoch.
        shards (Optional[List[Path]]): :meth:`shards`, if already listed.
        RETURNS (List[Path]): The shards, shuffled for the epoch when ``shuffle`` is set.
        """
        order = list(self.shards() if shards is None else shards)
        if self.shuffle:
            make_rng(self.seed, "shards", epoch).shuffle(order)
        return order

    def fingerprint(self, shards: Optional[List[Path]] = None) -> str:
        """A digest of the shards' relative paths and sizes (changes when the corpus does).

        shards (Optional[List[Path]]): :meth:`shards`, if already listed.
        RETURNS (str): 16 hex digits.
        """
        base = self.path if self.path.is_dir() else self.path.parent
        listing = [[p.relative_to(base).as_posix(), p.stat().st_size] for p in (shards or self.shards())]
        return hashlib.sha1(json.dumps(listing).encode("utf8")).hexdigest()[:16]

    def settings(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The settings that decide the examples and their order."""
        return {
            "shuffle": bool(self.shuffle),
            "seed": self.seed,
            "gold_preproc": bool(self.gold_preproc),
            "max_length": int(self.max_length),
            "limit": int(self.limit),
        }

    def position_record(self, position: StreamPosition, shards: Optional[List[Path]] = None) -> Dict[str, Any]:
        """The JSON record of ``position`` that a checkpoint stores and :meth:`__call__` reads back.

        position (StreamPosition): A position of this reader.
        shards (Optional[List[Path]]): :meth:`shards`, if already listed.
        RETURNS (Dict[str, Any]): The position's fields plus the shard's name, the
            corpus fingerprint and the reader's settings.
        """
        shards = self.shards() if shards is None else shards
        order = self.epoch_order(position.epoch, shards)
        record: Dict[str, Any] = dict(position._asdict())
        record["shard_file"] = order[position.shard].name if position.shard < len(order) else None
        record["corpus"] = self.fingerprint(shards)
        record["settings"] = self.settings()
        return record

    def __call__(self, nlp: Language) -> Iterator[Example]:
        """Yield the examples of one epoch (each call is the next epoch).

        The first call with ``checkpoint`` set continues the epoch recorded in the
        checkpoint, if any.

        nlp (Language): The pipeline (its vocab and tokenizer make the predicted docs).
        YIELDS (Example): Training examples.
        """
        shards = self.shards()
        start = StreamPosition(self.epoch)
        if self.checkpoint is not None:
            if self.start_position is None:
                start = self._recorded_position(shards) or start
            _STREAMS.setdefault(nlp, {})[_checkpoint_key(self.checkpoint)] = self
        if self.start_position is None:
            self.start_position = start
        self.epoch = start.epoch + 1
        self.position = start
        return self._epoch(nlp, self.epoch_order(start.epoch, shards), start)

    def _recorded_position(self, shards: List[Path]) -> Optional[StreamPosition]:
        """The position in the checkpoint (checked against this corpus and these settings), or None."""
        from .checkpoint import find_checkpoint, read_checkpoint_info

        assert self.checkpoint is not None
        found = find_checkpoint(self.checkpoint)
        if found is None:
            return None
        record = read_checkpoint_info(found).get("stream")
        if not record:
            return None
        if record.get("corpus") != self.fingerprint(shards):
            raise NerbertError(
                f"the shards under {self.path} are not those the checkpoint's epoch was reading "
                "(names or sizes changed), so its position cannot be continued; set the reader's "
                "checkpoint = null to start the epoch over",
                found,
            )
        if record.get("settings") != self.settings():
            raise NerbertError(
                f"the checkpoint's stream was read with {record.get('settings')}, this reader has "
                f"{self.settings()}; use the same settings or set the reader's checkpoint = null",
                found,
            )
        try:
            position = StreamPosition(*(int(record[field]) for field in StreamPosition._fields))
        except (KeyError, TypeError, ValueError):
            raise NerbertError(f"the stream position {record} is incomplete", found) from None
        self.resumed_from, self.resumed_record = found, record
        return position

    def _epoch(self, nlp: Language, order: List[Path], start: StreamPosition) -> Iterator[Example]:
        yield from self._walk(nlp, order, start)
        self.position = StreamPosition(start.epoch + 1)

    def _walk(self, nlp: Language, order: List[Path], start: StreamPosition) -> Iterator[Example]:
        epoch, n = start.epoch, start.examples
        for s in range(start.shard, len(order)):
            shard = order[s]
            self.stats["shards"] += 1
            docs = self._read(shard, nlp)
            if self.shuffle:
                make_rng(self.seed, "docs", epoch, shard.name).shuffle(docs)
            first = start.doc if s == start.shard else 0
            for d in range(first, len(docs)):
                self.stats["docs"] += 1
                done = start.example if (s, d) == (start.shard, start.doc) else 0
                for k, eg in enumerate(self._doc_examples(nlp, docs[d]), 1):
                    if k <= done:
                        continue
                    if self.limit and n >= self.limit:
                        return
                    n += 1
                    self.position = StreamPosition(epoch, s, d, k, n)
                    self.stats["examples"] += 1
                    yield eg

    def _read(self, shard: Path, nlp: Language) -> List[Doc]:
        try:
            return read_shard_docs(shard, nlp.vocab)
        except Exception as err:  # DocBin raises ValueError/KeyError/msgpack errors
            raise NerbertError(f"cannot read DocBin shard ({err})", shard) from None

    def _doc_examples(self, nlp: Language, reference: Doc) -> Iterator[Example]:
        for eg in self._make_examples(nlp, reference):
            if self.augmenter is not None:
                yield from self.augmenter(nlp, eg)
            else:
                yield eg

    def _make_examples(self, nlp: Language, reference: Doc) -> Iterator[Example]:
        if len(reference) == 0:
            self.stats["skipped_empty"] += 1
            return
        if self.gold_preproc:
            if reference.has_annotation("SENT_START"):
                refs = [sent.as_doc() for sent in reference.sents]
            else:
                refs = [reference]
            for ref in refs:
                if len(ref) == 0:
                    self.stats["skipped_empty"] += 1
                    continue
                if self.max_length and len(ref) > self.max_length:
                    self.stats["skipped_long"] += 1
                    continue
                yield Example(_same_tokens(nlp, ref), ref)
        else:
            if self.max_length and len(reference) > self.max_length:
                self.stats["skipped_long"] += 1
                return
            yield Example(nlp.make_doc(reference.text), reference)


def _same_tokens(nlp: Language, reference: Doc) -> Doc:
    """A Doc with ``reference``'s words and spaces and nothing else (read from its arrays)."""
    strings = nlp.vocab.strings
    columns = reference.to_array([ORTH, SPACY]).tolist()
    return Doc(nlp.vocab, words=[strings[orth] for orth, _ in columns], spaces=[bool(space) for _, space in columns])


def read_shard_docs(shard: Path, vocab: Any) -> List[Doc]:
    """``list(DocBin().from_disk(shard).get_docs(vocab))``, read inside the shard I/O's
    :func:`~nerbert_spacy.corpus.shards.fast_msgpack`.

    ``DocBin.get_docs`` decodes every Doc's user data and span groups with srsly's msgpack,
    which looks up its decoders through entry points on every call (about 2 ms a Doc, most
    of the reader's time on a corpus with user data); inside the block the look-up is cached
    and the Docs are the same.

    shard (Path): A ``.spacy`` file.
    vocab (Vocab): The vocab of the Docs.
    RETURNS (List[Doc]): The Docs, in file order.
    """
    with fast_msgpack():
        return list(DocBin().from_disk(shard).get_docs(vocab))

"""``nerbert.ShardedCorpus.v1``: stream a directory of ``.spacy`` shards lazily.

For pretraining at scale: only one shard is in memory at a time. With
``shuffle = true`` the shard order and the order of documents inside each
shard change every epoch (every call), deterministically for a seed. Use it
with ``[training] max_epochs = -1`` so that ``spacy train`` streams instead of
loading the whole corpus (spaCy calls the reader once per epoch then).
"""
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import registry

from ..errors import NerbertError
from ..util import make_rng


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
    RETURNS (Callable[[Language], Iterable[Example]]): The reader.
    """
    if path is None:
        raise NerbertError("nerbert.ShardedCorpus.v1 needs a path (set paths.train)")
    return ShardedCorpus(
        path,
        shuffle=shuffle,
        seed=seed,
        gold_preproc=gold_preproc,
        max_length=max_length,
        limit=limit,
        augmenter=augmenter,
    )


class ShardedCorpus:
    """Iterate Examples from ``.spacy`` shards, one shard in memory at a time."""

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
    ) -> None:
        self.path = Path(path)
        self.shuffle = shuffle
        self.seed = seed
        self.gold_preproc = gold_preproc
        self.max_length = max_length
        self.limit = limit
        self.augmenter = augmenter
        self.epoch = 0
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

    def __call__(self, nlp: Language) -> Iterator[Example]:
        """Yield the examples of one epoch (each call is the next epoch).

        nlp (Language): The pipeline (its vocab and tokenizer make the predicted docs).
        YIELDS (Example): Training examples.
        """
        epoch = self.epoch
        self.epoch += 1
        shards = self.shards()
        if self.shuffle:
            make_rng(self.seed, "shards", epoch).shuffle(shards)
        n = 0
        for shard in shards:
            self.stats["shards"] += 1
            try:
                docs = list(DocBin().from_disk(shard).get_docs(nlp.vocab))
            except Exception as err:  # DocBin raises ValueError/KeyError/msgpack errors
                raise NerbertError(f"cannot read DocBin shard ({err})", shard) from None
            if self.shuffle:
                make_rng(self.seed, "docs", epoch, shard.name).shuffle(docs)
            for reference in docs:
                self.stats["docs"] += 1
                for eg in self._make_examples(nlp, reference):
                    if self.augmenter is not None:
                        for aug in self.augmenter(nlp, eg):
                            yield aug
                    else:
                        yield eg
                    self.stats["examples"] += 1
                    n += 1
                    if self.limit and n >= self.limit:
                        return

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
                words = [t.text for t in ref]
                spaces = [bool(t.whitespace_) for t in ref]
                yield Example(Doc(nlp.vocab, words=words, spaces=spaces), ref)
        else:
            if self.max_length and len(reference) > self.max_length:
                self.stats["skipped_long"] += 1
                return
            yield Example(nlp.make_doc(reference.text), reference)

"""nerbert.ShardedCorpus.v1: every sentence once per epoch across shards, epochs reshuffled
deterministically, and an epoch continued from a checkpoint's recorded position."""

from itertools import islice
from pathlib import Path
from typing import List

import pytest
import spacy
from helpers import ID_TOKEN, write_id_shards
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.pipeline.checkpoint import MARKER, read_checkpoint_info, save_checkpoint
from nerbert_spacy.pipeline.readers import ShardedCorpus, StreamPosition, create_sharded_corpus, stream_for_checkpoint


def ids_of(examples) -> List[str]:
    return [eg.reference[ID_TOKEN].text for eg in examples]


@pytest.fixture
def nlp():
    return spacy.blank("en")


def test_every_sentence_once_per_epoch_and_epochs_reshuffle_deterministically(tmp_path, nlp):
    ids = write_id_shards(tmp_path / "c")
    reader = create_sharded_corpus(tmp_path / "c", shuffle=True, seed=3, gold_preproc=True)
    twin = create_sharded_corpus(tmp_path / "c", shuffle=True, seed=3, gold_preproc=True)
    epochs = [ids_of(reader(nlp)) for _ in range(3)]
    for epoch in epochs:
        assert sorted(epoch) == sorted(ids) and len(epoch) == len(ids)
    assert len({tuple(e) for e in epochs}) == 3  # each epoch has its own order
    assert [ids_of(twin(nlp)) for _ in range(3)] == epochs  # the same for the same seed
    other = create_sharded_corpus(tmp_path / "c", shuffle=True, seed=4, gold_preproc=True)
    assert ids_of(other(nlp)) != epochs[0]
    assert reader.position == StreamPosition(3)  # an exhausted epoch points at the next one's start


def test_position_follows_every_example(tmp_path, nlp):
    write_id_shards(tmp_path / "c", sizes=(2, 2), sents_per_doc=2)
    reader = ShardedCorpus(tmp_path / "c", gold_preproc=True)
    seen = []
    for eg in reader(nlp):
        seen.append(reader.position)
    assert seen == [
        StreamPosition(0, 0, 0, 1, 1),
        StreamPosition(0, 0, 0, 2, 2),
        StreamPosition(0, 0, 1, 1, 3),
        StreamPosition(0, 0, 1, 2, 4),
        StreamPosition(0, 1, 0, 1, 5),
        StreamPosition(0, 1, 0, 2, 6),
        StreamPosition(0, 1, 1, 1, 7),
        StreamPosition(0, 1, 1, 2, 8),
    ]
    assert reader.position == StreamPosition(1)


def _checkpoint_at(folder: Path, reader: ShardedCorpus, position: StreamPosition) -> Path:
    save_checkpoint(spacy.blank("en"), folder, {"step": 1, "stream": reader.position_record(position)})
    return folder


@pytest.mark.parametrize("sents_per_doc", [1, 2])
def test_resume_mid_epoch_continues_at_the_recorded_position(tmp_path, nlp, sents_per_doc):
    ids = write_id_shards(tmp_path / "c", sents_per_doc=sents_per_doc)
    settings = dict(shuffle=True, seed=11, gold_preproc=True)
    full = ShardedCorpus(tmp_path / "c", **settings)
    epoch0, epoch1 = ids_of(full(nlp)), ids_of(full(nlp))
    for cut in [0, 1, 4, 7, len(ids) - 1, len(ids)]:
        first = ShardedCorpus(tmp_path / "c", **settings)
        done = ids_of(islice(first(nlp), cut))
        position = first.position
        ckpt = _checkpoint_at(tmp_path / f"ckpt{cut}", first, position)
        assert read_checkpoint_info(ckpt)["stream"]["examples"] == cut

        resumed = ShardedCorpus(tmp_path / "c", checkpoint=ckpt, **settings)
        opened = []
        read = resumed._read
        resumed._read = lambda shard, nlp: opened.append(shard.name) or read(shard, nlp)
        rest = ids_of(resumed(nlp))
        assert done + rest == epoch0  # the same order, continued: nothing repeated, nothing missed
        assert sorted(done + rest) == sorted(ids)
        assert resumed.resumed_from == ckpt and resumed.start_position == position
        # the shards before the position's shard are never opened
        skipped = first.epoch_order(0)[: position.shard]
        assert not set(opened) & {p.name for p in skipped}
        assert ids_of(resumed(nlp)) == epoch1  # the next epoch as the uninterrupted run reads it
        assert stream_for_checkpoint(nlp, ckpt) is resumed


def test_limit_counts_across_a_resume(tmp_path, nlp):
    write_id_shards(tmp_path / "c")
    first = ShardedCorpus(tmp_path / "c", limit=7)
    stream = first(nlp)
    done = ids_of([next(stream) for _ in range(3)])
    ckpt = _checkpoint_at(tmp_path / "ckpt", first, first.position)
    resumed = ShardedCorpus(tmp_path / "c", limit=7, checkpoint=ckpt)
    assert len(done + ids_of(resumed(nlp))) == 7
    assert len(ids_of(resumed(nlp))) == 7


def test_resume_refuses_another_corpus_or_other_settings(tmp_path, nlp):
    write_id_shards(tmp_path / "c")
    first = ShardedCorpus(tmp_path / "c", shuffle=True, seed=1)
    next(first(nlp))
    ckpt = _checkpoint_at(tmp_path / "ckpt", first, first.position)
    with pytest.raises(NerbertError, match="seed"):
        ShardedCorpus(tmp_path / "c", shuffle=True, seed=2, checkpoint=ckpt)(nlp)
    write_id_shards(tmp_path / "c", sizes=(5, 3, 6, 4, 1))
    with pytest.raises(NerbertError, match="not those the checkpoint"):
        ShardedCorpus(tmp_path / "c", shuffle=True, seed=1, checkpoint=ckpt)(nlp)


def test_checkpoint_without_a_position_starts_the_epoch(tmp_path, nlp):
    ids = write_id_shards(tmp_path / "c")
    save_checkpoint(spacy.blank("en"), tmp_path / "ckpt", {"step": 5})  # as v1 writes it
    reader = create_sharded_corpus(tmp_path / "c", checkpoint=str(tmp_path / "ckpt"))
    assert ids_of(reader(nlp)) == ids and reader.resumed_from is None
    assert (tmp_path / "ckpt" / MARKER).is_file()
    # no checkpoint folder yet: the first run starts at epoch 0 and reports to the callback
    fresh = create_sharded_corpus(tmp_path / "c", checkpoint=str(tmp_path / "none"))
    assert ids_of(fresh(nlp)) == ids
    assert stream_for_checkpoint(nlp, tmp_path / "none") is fresh
    assert create_sharded_corpus(tmp_path / "c", checkpoint="null").checkpoint is None


def test_shard_docs_and_examples_are_those_of_docbin(tmp_path, nlp):
    """read_shard_docs = DocBin.get_docs (user data too, numpy values included); the predicted
    doc of a gold_preproc example has the reference's words and spaces."""
    import numpy

    from nerbert_spacy.pipeline.readers import read_shard_docs

    vocab = Vocab()
    db = DocBin(store_user_data=True)
    for i, words in enumerate([["Hello", "world", "!"], ["a"], [], ["New", "York", "is", "big"]]):
        doc = Doc(vocab, words=words, spaces=[i % 2 == 0] * len(words))
        doc.user_data.update({"title": f"t{i}", ("key", i): [1, 2], "vector": numpy.arange(i, dtype="f")})
        db.add(doc)
    db.add(Doc(vocab, words=["x"]))  # no user data
    db.to_disk(tmp_path / "a.spacy")
    ours = read_shard_docs(tmp_path / "a.spacy", nlp.vocab)
    theirs = list(DocBin().from_disk(tmp_path / "a.spacy").get_docs(nlp.vocab))
    assert [d.to_bytes() for d in ours] == [d.to_bytes() for d in theirs]
    assert isinstance(ours[3].user_data["vector"], numpy.ndarray) and ours[3].user_data[("key", 3)] == (1, 2)
    examples = list(ShardedCorpus(tmp_path / "a.spacy", gold_preproc=True)(nlp))
    for eg in examples:
        assert [t.text_with_ws for t in eg.predicted] == [t.text_with_ws for t in eg.reference]
    assert len(examples) == 4  # the empty doc is skipped

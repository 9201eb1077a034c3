"""Every config in configs/: values the paper fixes, init_nlp + 2 training steps on the tiny BERT."""
import os

import pytest
from helpers import CONFIGS
from spacy.tokens import Doc, DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config
from spacy.vocab import Vocab

ALL_CONFIGS = sorted(CONFIGS.glob("*.cfg"))


def test_there_are_configs():
    names = {p.name for p in ALL_CONFIGS}
    assert {"pretrain.cfg", "finetune.cfg"} <= names


def _head_weights(nlp):
    layer = nlp.get_pipe("bio_tagger").model.get_ref("output_layer")
    return layer.ops.to_numpy(layer.get_param("W")).copy()


def _train_and_check(nlp, out):
    """Train ``nlp`` into ``out``; check the saved pipelines trained, score and tag PER/LOC."""
    import numpy
    import spacy

    initial = _head_weights(nlp)
    out.mkdir()
    with open(os.devnull, "w") as devnull:
        train(nlp, out, stdout=devnull)
    for name in ("model-best", "model-last"):
        loaded = spacy.load(out / name)
        assert loaded.pipe_names == ["transformer", "bio_tagger"]
        assert loaded.get_pipe("bio_tagger").labels == ("LOC", "PER")
        assert not numpy.array_equal(_head_weights(loaded), initial), f"{name}: the head did not train"
        score = loaded.meta["performance"]["ents_f"]
        assert 0.0 <= score <= 1.0
        doc = loaded("the president John Smith was born in Paris .")
        assert {span.label_ for span in doc.spans["bio_tagger"]} <= {"LOC", "PER"}
        assert doc.ents == tuple(doc.spans["bio_tagger"])  # the final choice is the tagger's
    return loaded


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_config_inits_and_trains_two_steps(path, tmp_path, tiny_train_overrides):
    config = load_config(path, overrides=tiny_train_overrides, interpolate=False)
    nlp = init_nlp(config)
    assert nlp.pipe_names == ["transformer", "bio_tagger"]
    assert nlp.get_pipe("bio_tagger").labels == ("LOC", "PER")
    _train_and_check(nlp, tmp_path / "out")


def test_pretrain_streaming_reader_trains(tmp_path, tiny_train_overrides):
    overrides = dict(tiny_train_overrides)
    overrides.update({"training.train_corpus": "corpora.train_stream", "training.max_epochs": -1})
    config = load_config(CONFIGS / "pretrain.cfg", overrides=overrides, interpolate=False)
    nlp = init_nlp(config)
    assert config["corpora"]["train_stream"]["@readers"] == "nerbert.ShardedCorpus.v1"
    _train_and_check(nlp, tmp_path / "out")


def test_paper_settings():
    pre = load_config(CONFIGS / "pretrain.cfg", interpolate=False)
    fine = load_config(CONFIGS / "finetune.cfg", interpolate=False)
    for cfg in (pre, fine):
        assert cfg["training"]["optimizer"]["learn_rate"] == 5e-5
        assert cfg["training"]["optimizer"]["@optimizers"] == "Adam.v1"
        assert cfg["components"]["bio_tagger"]["factory"] == "bio_tagger"
        assert cfg["components"]["bio_tagger"]["model"]["@architectures"] == "nerbert.BioTagger.v1"
        assert cfg["components"]["bio_tagger"]["model"]["tok2vec"]["pooling"]["@layers"] == "nerbert.reduce_first.v1"
        assert cfg["components"]["transformer"]["model"]["name"] == "${paths.encoder}"
        assert cfg["paths"]["encoder"] == "bert-base-cased"
        assert cfg["training"]["score_weights"]["ents_f"] == 1.0
        assert "mixed_precision" in cfg["components"]["transformer"]["model"]
    # 960 sentences per update = batch size, split into accumulate_gradient sub-batches
    assert pre["training"]["batcher"]["size"] == 960
    assert pre["training"]["batcher"]["@batchers"] == "spacy.batch_by_sequence.v1"
    assert 960 % pre["training"]["accumulate_gradient"] == 0
    assert pre["corpora"]["train_stream"]["@readers"] == "nerbert.ShardedCorpus.v1"
    assert fine["training"]["batcher"]["size"] == 16
    assert fine["paths"]["pretrained"] is None and fine["paths"]["head_mapping"] is None
    after = fine["initialize"]["after_init"]
    assert after["@callbacks"] == "nerbert.init_from_pretrained.v1"
    assert after["pretrained"] == "${paths.pretrained}"
    assert after["head_mapping"] == "${paths.head_mapping}"
    for key in ("max_epochs", "patience"):
        assert key in fine["training"]
    assert fine["training"]["seed"] == "${system.seed}"


def test_sharded_reader_streams_shuffles_deterministically(tmp_path):
    import spacy

    from nerbert_spacy.errors import NerbertError
    from nerbert_spacy.pipeline.readers import create_sharded_corpus

    folder = tmp_path / "shards"
    folder.mkdir()
    vocab = Vocab()
    for s in range(3):
        db = DocBin()
        for i in range(4):
            db.add(Doc(vocab, words=[f"s{s}d{i}"] + ["x"] * i))
        db.add(Doc(vocab, words=[]))
        db.to_disk(folder / f"{s}.spacy")
    nlp = spacy.blank("en")

    def texts(reader):
        return [eg.reference[0].text for eg in reader(nlp)]

    plain = create_sharded_corpus(folder)
    assert texts(plain) == [f"s{s}d{i}" for s in range(3) for i in range(4)]
    assert plain.stats["skipped_empty"] == 3
    r1 = create_sharded_corpus(folder, shuffle=True, seed=7)
    r2 = create_sharded_corpus(folder, shuffle=True, seed=7)
    e1, e2 = texts(r1), texts(r2)
    assert e1 == e2 and sorted(e1) == sorted(texts(plain))
    later = [tuple(texts(r1)) for _ in range(3)]  # each call is a new epoch, reshuffled
    assert len({tuple(e1), *later}) > 1
    assert len(texts(create_sharded_corpus(folder, limit=5))) == 5
    short = create_sharded_corpus(folder, max_length=2, gold_preproc=True)
    assert len(texts(short)) == 6 and short.stats["skipped_long"] == 6
    (tmp_path / "empty").mkdir()
    with pytest.raises(NerbertError, match="no .spacy shards"):
        list(create_sharded_corpus(tmp_path / "empty")(nlp))
    with pytest.raises(NerbertError, match="not found"):
        list(create_sharded_corpus(tmp_path / "missing")(nlp))
    (folder / "9.spacy").write_bytes(b"not a docbin")
    with pytest.raises(NerbertError, match="9.spacy"):
        list(create_sharded_corpus(folder)(nlp))

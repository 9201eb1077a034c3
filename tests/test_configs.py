"""Every config in configs/: values the paper fixes, init_nlp + 2 training steps on the tiny BERT."""
from pathlib import Path

import pytest
from spacy.tokens import Doc, DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config
from spacy.vocab import Vocab

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

ALL_CONFIGS = sorted(CONFIGS.glob("*.cfg"))


def test_there_are_configs():
    names = {p.name for p in ALL_CONFIGS}
    assert {"pretrain.cfg", "finetune.cfg"} <= names


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_config_inits_and_trains_two_steps(path, tmp_path, tiny_train_overrides):
    config = load_config(path, overrides=tiny_train_overrides, interpolate=False)
    nlp = init_nlp(config)
    assert nlp.pipe_names == ["transformer", "bio_tagger"]
    assert nlp.get_pipe("bio_tagger").labels == ("LOC", "PER")
    out = tmp_path / "out"
    out.mkdir()
    nlp, _ = train(nlp, out, stdout=open("/dev/null", "w"))
    assert (out / "model-best" / "config.cfg").is_file()
    assert (out / "model-last" / "bio_tagger" / "model").is_file()
    import spacy

    loaded = spacy.load(out / "model-best")
    doc = loaded("the president John Smith was born in Paris .")
    assert "bio_tagger" in doc.spans


def test_pretrain_streaming_reader_trains(tmp_path, tiny_train_overrides):
    overrides = dict(tiny_train_overrides)
    overrides.update({"training.train_corpus": "corpora.train_stream", "training.max_epochs": -1})
    config = load_config(CONFIGS / "pretrain.cfg", overrides=overrides, interpolate=False)
    nlp = init_nlp(config)
    out = tmp_path / "out"
    out.mkdir()
    nlp, _ = train(nlp, out, stdout=open("/dev/null", "w"))
    assert (out / "model-last").is_dir()


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

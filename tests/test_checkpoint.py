"""nerbert.checkpoint_resume.v1/v2: pretraining on the tiny BERT writes an atomic checkpoint
every N steps, and a new run starts from it: v1 the weights (encoder and head); v2 also
Adam's state and the streaming reader's position, so interrupted + resumed = uninterrupted."""

import io
import json
import shutil

import numpy
import pytest
import spacy
from helpers import CONFIGS, ID_TOKEN, write_id_shards
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config, registry

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.pipeline.checkpoint import (
    MARKER,
    OPTIMIZER_ARRAYS,
    OPTIMIZER_INDEX,
    ParamNames,
    create_checkpoint_resume,
    find_checkpoint,
    save_checkpoint,
)
from nerbert_spacy.pipeline.readers import ShardedCorpus


def _config(tiny_train_overrides, checkpoint, every=1, max_steps=2, seed=0, version="v1", stream=False, **extra):
    overrides = dict(tiny_train_overrides)
    overrides.update(
        {
            "training.max_steps": max_steps,
            "training.eval_frequency": 1,
            "system.seed": seed,
            "training.before_update": {
                "@callbacks": f"nerbert.checkpoint_resume.{version}",
                "path": str(checkpoint),
                "every": every,
            },
        }
    )
    if stream:
        overrides.update(
            {
                "training.train_corpus": "corpora.train_stream",
                "training.max_epochs": -1,
                "training.accumulate_gradient": 1,
                "training.dropout": 0.0,
                # no dropout in the encoder either, so two runs can give the same weights
                "components.transformer.model.transformer_config": {
                    "hidden_dropout_prob": 0.0,
                    "attention_probs_dropout_prob": 0.0,
                },
                "corpora.train_stream.checkpoint": str(checkpoint),
            }
        )
    overrides.update(extra)
    return load_config(CONFIGS / "pretrain.cfg", overrides=overrides, interpolate=False)


def _torch_state(nlp):
    trf = nlp.get_pipe("transformer")
    return {k: v.detach().cpu().numpy().copy() for k, v in trf.model.transformer.state_dict().items()}


def _head(nlp):
    out = nlp.get_pipe("bio_tagger").model.get_ref("output_layer")
    return out.ops.to_numpy(out.get_param("W")).copy(), out.ops.to_numpy(out.get_param("b")).copy()


def _weights(nlp):
    return [*_head(nlp), *_torch_state(nlp).values()]


def _same(a, b):
    return all(numpy.array_equal(x, y) for x, y in zip(_weights(a), _weights(b)))


def _train(config):
    """init_nlp + spaCy's training loop; RETURNS (nlp, ids of the sentences it updated on, in order)."""
    nlp = init_nlp(config)
    seen, update = [], nlp.update

    def recording_update(examples, **kwargs):
        seen.extend(eg.reference[ID_TOKEN].text for eg in examples)
        return update(examples, **kwargs)

    nlp.update = recording_update
    train(nlp, None, stdout=io.StringIO(), stderr=io.StringIO())
    return nlp, seen


@pytest.mark.slow
def test_checkpoints_are_written_and_resumed(tmp_path, tiny_train_overrides):
    ckpt = tmp_path / "out" / "checkpoint-last"
    config = _config(tiny_train_overrides, ckpt, every=1, max_steps=2)
    nlp = init_nlp(config)
    initial_head = _head(nlp)
    (tmp_path / "out").mkdir(exist_ok=True)
    train(nlp, tmp_path / "out", stdout=io.StringIO(), stderr=io.StringIO())
    # saved before updates 1 and 2 (= after 1 and 2 updates); the last one survives, atomically
    info = json.loads((ckpt / MARKER).read_text())
    assert info["step"] == 2 and info["resumed_from_step"] is None
    assert "stream" not in info and not (ckpt / OPTIMIZER_INDEX).exists()  # v1: weights only
    assert not (tmp_path / "out" / "checkpoint-last.prev").exists()
    assert not list((tmp_path / "out").glob(".tmp-*"))
    saved = spacy.load(ckpt)
    saved_head, saved_trf = _head(saved), _torch_state(saved)
    assert not numpy.array_equal(saved_head[0], initial_head[0])  # it trained

    # a new run (another seed: other random head and data order) starts from the checkpoint
    config2 = _config(tiny_train_overrides, ckpt, every=1, max_steps=1, seed=5)
    nlp2 = init_nlp(config2)
    assert not numpy.array_equal(_head(nlp2)[0], saved_head[0])
    callback = registry.resolve({"cb": config2["training"]["before_update"]})["cb"]
    callback(nlp2, {"step": 0, "epoch": 0})
    assert all(numpy.array_equal(a, b) for a, b in zip(_head(nlp2), saved_head))
    state = _torch_state(nlp2)
    assert state.keys() == saved_trf.keys()
    assert all(numpy.array_equal(state[k], saved_trf[k]) for k in state)
    assert nlp2.meta["nerbert"]["resumed_from"] == {"path": str(ckpt), "step": 2}
    # the whole resumed run through spacy's loop: the step count continues from 2
    nlp3 = init_nlp(config2)
    train(nlp3, None, stdout=io.StringIO(), stderr=io.StringIO())
    info = json.loads((ckpt / MARKER).read_text())
    assert info["step"] == 3 and info["resumed_from_step"] == 2 and info["run_step"] == 1


@pytest.mark.slow
def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(tmp_path, tiny_train_overrides):
    """21 sentences in 4 shards, batches of 4 (6 per epoch): 10 updates in one run, or
    4 updates + a checkpoint at step 4 + 6 updates in a resumed run, give the same weights."""
    ids = write_id_shards(tmp_path / "ids", sizes=(5, 3, 6, 7))
    base = dict(tiny_train_overrides, **{"paths.train": str(tmp_path / "ids")})
    whole, whole_seen = _train(_config(base, tmp_path / "whole", every=100, max_steps=9, version="v2", stream=True))

    ckpt = tmp_path / "ckpt"
    _, first_seen = _train(_config(base, ckpt, every=4, max_steps=4, version="v2", stream=True))
    info = json.loads((ckpt / MARKER).read_text())
    # saved before update 4: 4 batches of 4 examples were trained on, batch 4 was drawn but not
    assert info["step"] == 4 and info["stream"]["examples"] == 16 and info["stream"]["epoch"] == 0
    assert info["optimizer"]["params"] > 0 and (ckpt / OPTIMIZER_INDEX).is_file()
    # the position: 16 examples into epoch 0 of this corpus, read with these settings
    stream = info["stream"]
    reader = ShardedCorpus(tmp_path / "ids", shuffle=True, seed=0, gold_preproc=True)  # pretrain.cfg
    assert stream["corpus"] == reader.fingerprint() and stream["settings"] == reader.settings()
    assert stream["shard_file"] == reader.epoch_order(0)[stream["shard"]].name
    # Adam's state: both moments of every parameter, updated 4 times, not all zero
    index = json.loads((ckpt / OPTIMIZER_INDEX).read_text())
    arrays = numpy.load(ckpt / OPTIMIZER_ARRAYS)
    assert len(index["entries"]) == info["optimizer"]["params"] and index["schedule_steps"] == 4
    assert {e["param"].split("/")[0] for e in index["entries"]} == {"transformer", "bio_tagger"}
    for entry in index["entries"]:
        assert entry["nr_update"] == 4, entry
        mom1, mom2 = arrays[entry["mom1"]], arrays[entry["mom2"]]
        assert mom1.shape == mom2.shape and numpy.isfinite(mom1).all() and (mom2 >= 0).all()
    assert all(arrays[e["mom2"]].any() for e in index["entries"] if e["param"].startswith("bio_tagger"))
    kept = tmp_path / "kept"
    shutil.copytree(ckpt, kept)

    resumed, resumed_seen = _train(_config(base, ckpt, every=100, max_steps=5, version="v2", stream=True))
    epoch0 = first_seen[:16] + resumed_seen[:5]
    assert sorted(epoch0) == sorted(ids)  # the interrupted epoch: every sentence exactly once
    assert first_seen == whole_seen[:20] and epoch0 == whole_seen[:21]  # (batch 4 trained after the save)
    assert resumed_seen == whole_seen[16:]  # the resumed run draws what the whole run drew next
    assert resumed.meta["nerbert"]["resumed_from"]["step"] == 4
    assert _same(resumed, whole)  # weights, Adam moments and data order all continued

    # without the optimizer's state (moments restart, v1's behaviour) the result differs
    shutil.rmtree(ckpt)
    shutil.copytree(kept, ckpt)
    (ckpt / OPTIMIZER_INDEX).unlink()
    fresh_adam, seen = _train(_config(base, ckpt, every=100, max_steps=5, version="v2", stream=True))
    assert seen == resumed_seen and not _same(fresh_adam, whole)


@pytest.mark.slow
def test_v2_refuses_what_it_cannot_resume_exactly(tmp_path, tiny_train_overrides):
    write_id_shards(tmp_path / "ids")
    base = dict(tiny_train_overrides, **{"paths.train": str(tmp_path / "ids")})
    words = _config(
        base, tmp_path / "c1", version="v2", stream=True, **{"training.batcher": {"@batchers": "spacy.batch_by_words.v1", "size": 40}}
    )
    with pytest.raises(NerbertError, match="batch_by_words"):
        _train(words)
    in_memory = _config(base, tmp_path / "c2", version="v2", stream=True, **{"training.max_epochs": 0})
    with pytest.raises(NerbertError, match="max_epochs"):
        _train(in_memory)
    # a checkpoint of another pipeline: the optimizer's entries are refused by name
    _train(_config(base, tmp_path / "c3", every=2, max_steps=2, version="v2", stream=True))
    index = json.loads((tmp_path / "c3" / OPTIMIZER_INDEX).read_text())
    index["entries"][0]["param"] = "bio_tagger/99:nothing/W"
    (tmp_path / "c3" / OPTIMIZER_INDEX).write_text(json.dumps(index))
    with pytest.raises(NerbertError, match="does not have"):
        _train(_config(base, tmp_path / "c3", every=2, max_steps=2, version="v2", stream=True))


@pytest.mark.slow
def test_param_names_are_the_same_in_a_second_pipeline(tmp_path, tiny_train_overrides):
    config = _config(tiny_train_overrides, tmp_path / "c", version="v2")
    a, b = init_nlp(config), init_nlp(config)
    names_a, names_b = ParamNames(a), ParamNames(b)
    assert set(names_a.by_name) == set(names_b.by_name)
    assert any("/shim0/" in name for name in names_a.by_name)  # the transformer's torch weights
    assert set(names_a.by_key).isdisjoint(names_b.by_key)  # the raw thinc keys are not


def test_crash_during_swap_falls_back_to_prev(tmp_path):
    nlp = spacy.blank("en")
    ckpt = tmp_path / "checkpoint-last"
    assert find_checkpoint(ckpt) is None
    save_checkpoint(nlp, ckpt, {"step": 10})
    assert find_checkpoint(ckpt) == ckpt
    # interrupted between "old -> .prev" and "new -> path"
    ckpt.rename(tmp_path / "checkpoint-last.prev")
    assert find_checkpoint(ckpt) == tmp_path / "checkpoint-last.prev"
    save_checkpoint(nlp, ckpt, {"step": 20})
    assert json.loads((ckpt / MARKER).read_text())["step"] == 20
    assert not (tmp_path / "checkpoint-last.prev").exists()
    assert find_checkpoint(ckpt) == ckpt


def test_bad_settings_and_foreign_folders(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for path in (None, "null", "None", ""):  # what a config's null can arrive as
        noop = create_checkpoint_resume(path, every=1)
        assert noop(spacy.blank("en"), {"step": 5, "epoch": 0}) is None
        assert noop.__name__ == "no_checkpoints"
    assert list(cwd.iterdir()) == []  # nothing saved, no folder called "null"
    with pytest.raises(NerbertError, match="at least 1"):
        create_checkpoint_resume(str(tmp_path / "c"), every=0)
    other = tmp_path / "something"
    other.mkdir()
    (other / "file.txt").write_text("x")
    with pytest.raises(NerbertError, match="not a checkpoint"):
        find_checkpoint(other)
    cb = create_checkpoint_resume(str(other), every=1)
    with pytest.raises(NerbertError, match="something"):
        cb(spacy.blank("en"), {"step": 0, "epoch": 0})
    write_id_shards(tmp_path / "corpus")
    with pytest.raises(NerbertError, match="something"):
        ShardedCorpus(tmp_path / "corpus", checkpoint=other)(spacy.blank("en"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_command_line_override_resolves(tmp_path, version):
    """The JSON form of --training.before_update works with spaCy's override parser."""
    from spacy.cli._util import parse_config_overrides

    value = json.dumps({"@callbacks": f"nerbert.checkpoint_resume.{version}", "path": str(tmp_path / "c"), "every": 3})
    overrides = parse_config_overrides(["--training.before_update", value])
    config = load_config(CONFIGS / "pretrain.cfg", overrides=overrides, interpolate=False)
    cb = registry.resolve({"cb": config["training"]["before_update"]})["cb"]
    assert callable(cb) and cb.__name__ == "checkpoint_resume"


def test_pretrain_config_uses_v2_and_the_reader_reports_to_it():
    config = load_config(CONFIGS / "pretrain.cfg", interpolate=False)
    assert config["training"]["before_update"]["@callbacks"] == "nerbert.checkpoint_resume.v2"
    assert config["training"]["before_update"]["path"] == "${paths.checkpoint}"
    assert config["corpora"]["train_stream"]["checkpoint"] == "${paths.checkpoint}"

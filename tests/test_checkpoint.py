"""nerbert.checkpoint_resume.v1: pretraining on the tiny BERT writes an atomic checkpoint
every N steps, and a new run starts from its weights (encoder and head)."""

import io
import json

import numpy
import pytest
import spacy
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config, registry
from test_configs import CONFIGS, tiny_overrides

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.pipeline.checkpoint import (
    MARKER,
    create_checkpoint_resume,
    find_checkpoint,
    save_checkpoint,
)


def _config(tmp_path, tiny_bert, checkpoint, every=1, max_steps=2, seed=0):
    overrides = tiny_overrides(tmp_path, tiny_bert, "pretrain.cfg")
    overrides.update(
        {
            "training.max_steps": max_steps,
            "training.eval_frequency": 100,
            "system.seed": seed,
            "training.before_update": {
                "@callbacks": "nerbert.checkpoint_resume.v1",
                "path": str(checkpoint),
                "every": every,
            },
        }
    )
    return load_config(CONFIGS / "pretrain.cfg", overrides=overrides, interpolate=False)


def _torch_state(nlp):
    trf = nlp.get_pipe("transformer")
    return {k: v.detach().cpu().numpy().copy() for k, v in trf.model.transformer.state_dict().items()}


def _head(nlp):
    out = nlp.get_pipe("bio_tagger").model.get_ref("output_layer")
    return out.ops.to_numpy(out.get_param("W")).copy(), out.ops.to_numpy(out.get_param("b")).copy()


@pytest.mark.slow
def test_checkpoints_are_written_and_resumed(tmp_path, tiny_bert):
    ckpt = tmp_path / "out" / "checkpoint-last"
    config = _config(tmp_path / "run1", tiny_bert, ckpt, every=1, max_steps=2)
    nlp = init_nlp(config)
    initial_head = _head(nlp)
    (tmp_path / "out").mkdir(exist_ok=True)
    train(nlp, tmp_path / "out", stdout=io.StringIO(), stderr=io.StringIO())
    # saved before updates 1 and 2 (= after 1 and 2 updates); the last one survives, atomically
    info = json.loads((ckpt / MARKER).read_text())
    assert info["step"] == 2 and info["resumed_from_step"] is None
    assert not (tmp_path / "out" / "checkpoint-last.prev").exists()
    assert not list((tmp_path / "out").glob(".tmp-*"))
    saved = spacy.load(ckpt)
    saved_head, saved_trf = _head(saved), _torch_state(saved)
    assert not numpy.array_equal(saved_head[0], initial_head[0])  # it trained

    # a new run (another seed: other random head and data order) starts from the checkpoint
    config2 = _config(tmp_path / "run2", tiny_bert, ckpt, every=1, max_steps=1, seed=5)
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


def test_bad_settings_and_foreign_folders(tmp_path):
    noop = create_checkpoint_resume(None)
    assert noop(spacy.blank("en"), {"step": 5, "epoch": 0}) is None
    assert create_checkpoint_resume("null") is not None
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


def test_command_line_override_resolves(tmp_path):
    """The JSON form of --training.before_update works with spaCy's override parser."""
    from spacy.cli._util import parse_config_overrides

    value = json.dumps({"@callbacks": "nerbert.checkpoint_resume.v1", "path": str(tmp_path / "c"), "every": 3})
    overrides = parse_config_overrides(["--training.before_update", value])
    config = load_config(CONFIGS / "pretrain.cfg", overrides=overrides, interpolate=False)
    cb = registry.resolve({"cb": config["training"]["before_update"]})["cb"]
    assert callable(cb) and cb.__name__ == "checkpoint_resume"

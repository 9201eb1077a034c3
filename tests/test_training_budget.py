"""The training budget guard, the console logger's signs of life and the
start-up lines of init-from-pretrained (tiny BERT, a few steps)."""
import io
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.pipeline.logger import check_training_budget, create_console_logger

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _nlp_with_training(write_corpus, folder, **training):
    """A blank pipeline whose config has a 12-sentence training corpus and ``training``."""
    import spacy

    train_dir = write_corpus(folder / "train", n_shards=2, per_shard=6)  # 12 docs + 2 empty
    config = {
        "paths": {"train": str(train_dir)},
        "corpora": {"train": {"@readers": "spacy.Corpus.v1", "path": "${paths.train}"}},
        "training": {"batcher": {"@batchers": "spacy.batch_by_sequence.v1", "size": 4, "get_length": None}},
    }
    config["training"].update(training)
    return spacy.blank("en", config=config)


def test_patience_shorter_than_eval_frequency_is_refused(tmp_path, write_tiny_corpus):
    nlp = _nlp_with_training(write_tiny_corpus, tmp_path, patience=3, eval_frequency=20, max_epochs=0, max_steps=0)
    with pytest.raises(NerbertError, match="patience = 3 is shorter than training.eval_frequency = 20"):
        check_training_budget(nlp)


def test_max_steps_below_eval_frequency_is_refused(tmp_path, write_tiny_corpus):
    nlp = _nlp_with_training(write_tiny_corpus, tmp_path, patience=0, eval_frequency=50, max_steps=10, max_epochs=0)
    with pytest.raises(NerbertError, match="max_steps = 10 is smaller"):
        check_training_budget(nlp)


def test_epoch_budget_counts_batches_of_the_corpus(tmp_path, write_tiny_corpus):
    # 12 docs (+2 empty ones the reader skips) in batches of 4 -> 3 steps per epoch; 2 epochs = 6 < 21
    nlp = _nlp_with_training(write_tiny_corpus, tmp_path, patience=0, eval_frequency=20, max_steps=0, max_epochs=2)
    with pytest.raises(NerbertError, match=r"max_epochs = 2 gives only 6 update steps \(3 per epoch\).*at most 5"):
        check_training_budget(nlp)
    ok = _nlp_with_training(write_tiny_corpus, tmp_path / "ok", patience=0, eval_frequency=5, max_steps=0, max_epochs=2)
    assert check_training_budget(ok) == {"eval_frequency": 5, "patience": 0, "max_steps": 0, "steps": 6}


def test_epoch_budget_read_only_in_part_is_not_reported_as_the_total(tmp_path, write_tiny_corpus):
    # 3 steps per epoch, 10 epochs = 30 steps; the guard needs 3 (eval_frequency 2) and stops reading
    # after the first batch, so it knows a lower bound only and must not call it the total
    nlp = _nlp_with_training(write_tiny_corpus, tmp_path, patience=0, eval_frequency=2, max_steps=0, max_epochs=10)
    assert check_training_budget(nlp)["steps"] == -1
    # eval_frequency 29 needs 30 steps = 3 per epoch: the whole epoch is read, so the total is known
    whole = _nlp_with_training(write_tiny_corpus, tmp_path / "whole", patience=0, eval_frequency=29, max_steps=0,
                               max_epochs=10)
    assert check_training_budget(whole)["steps"] == 30


def test_sound_budgets_pass(tmp_path, write_tiny_corpus):
    nlp = _nlp_with_training(write_tiny_corpus, tmp_path, patience=400, eval_frequency=20, max_steps=20000, max_epochs=0)
    assert check_training_budget(nlp)["steps"] == -1


@pytest.mark.slow
def test_spacy_train_refuses_step0_budget_and_keeps_previous_model(tmp_path, tiny_train_overrides):
    out = tmp_path / "out"
    (out / "model-best").mkdir(parents=True)
    (out / "model-best" / "marker").write_text("previous run")
    ov = dict(tiny_train_overrides)
    args = [f"--{k}={v}" for k, v in ov.items() if k not in ("training.max_steps", "training.eval_frequency")]
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(CONFIGS / "finetune.cfg"), "--output", str(out), *args,
         "--training.patience=3", "--training.eval_frequency=20", "--training.max_steps=0",
         "--training.max_epochs=10"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1
    said = " ".join(result.stdout.split())
    assert "Training budget refused: training.patience = 3 is shorter than" in said and "step-0 model" in said
    assert "Traceback" not in result.stderr
    assert (out / "model-best" / "marker").read_text() == "previous run"


def test_logger_heartbeat_and_model_best_summary(tmp_path, tiny_train_overrides):
    ov = dict(tiny_train_overrides)
    ov.update({"training.max_steps": 6, "training.eval_frequency": 3})
    config = load_config(CONFIGS / "finetune.cfg", overrides=ov, interpolate=False)
    nlp = init_nlp(config)
    out = tmp_path / "out"
    out.mkdir()
    stdout, stderr = io.StringIO(), io.StringIO()
    log_step, finalize = create_console_logger(progress_bar="eval", heartbeat_s=1e-9)(nlp, stdout, stderr)
    infos = [None, {"step": 3, "epoch": 0, "score": 0.5, "losses": {"bio_tagger": 1.0, "transformer": 0.0},
                    "other_scores": {"ents_f": 0.5}}, None]
    log_step({"step": 0, "epoch": 0, "score": 0.1, "losses": {"bio_tagger": 2.0, "transformer": 0.0},
              "other_scores": {"ents_f": 0.1}})
    for info in infos:
        log_step(info)
    finalize()
    assert "... step 1," in stderr.getvalue() and "... step 4," in stderr.getvalue()
    assert "model-best: step 3, score 0.5000 (2 evaluations)" in stdout.getvalue()
    # a real run through spaCy's loop uses the logger from the config
    nlp, _ = train(nlp, out, stdout=stdout, stderr=stderr)
    assert "model-best: step" in stdout.getvalue()


def test_logger_warns_when_only_step0_was_evaluated(tiny_bert):
    import spacy

    nlp = spacy.blank("en")
    stdout, stderr = io.StringIO(), io.StringIO()
    log_step, finalize = create_console_logger(progress_bar=None, heartbeat_s=0)(nlp, stdout, stderr)
    log_step({"step": 0, "epoch": 0, "score": 0.0, "losses": {}, "other_scores": {"ents_f": 0.0}})
    log_step(None)
    finalize()
    assert "model-best is the step-0 model" in " ".join(stderr.getvalue().split())


def test_logger_warns_when_no_later_evaluation_beat_step0_and_records_it():
    import spacy

    from nerbert_spacy.pipeline.logger import LAST_RUN

    nlp = spacy.blank("en")
    stdout, stderr = io.StringIO(), io.StringIO()
    log_step, finalize = create_console_logger(progress_bar=None, heartbeat_s=0)(nlp, stdout, stderr)
    for step, score in [(0, 0.007), (7, 0.0), (14, 0.0), (21, 0.006)]:
        log_step({"step": step, "epoch": 0, "score": score, "losses": {}, "other_scores": {"ents_f": score}})
    finalize()
    text = " ".join(stderr.getvalue().split())
    assert "model-best is the step-0 model: none of the 3 evaluations after step 0 beat it" in text
    assert "model-best: step" not in stdout.getvalue()
    assert LAST_RUN == {"best_step": 0, "best_score": 0.007, "first_score": 0.007, "evaluations": 4,
                        "last_evaluated_step": 21}


def test_init_from_pretrained_says_what_it_loaded(tmp_path, tiny_train_overrides, capsys):
    ov = dict(tiny_train_overrides)
    config = load_config(CONFIGS / "finetune.cfg", overrides=ov, interpolate=False)
    nlp = init_nlp(config)
    capsys.readouterr()
    pre = tmp_path / "pre"
    nlp.to_disk(pre)
    n_tensors = len(nlp.get_pipe("transformer").model.transformer.state_dict())
    mapping = tmp_path / "map.json"
    mapping.write_text('{"PER": ["PER"], "LOC": ["GPE"]}')
    ov.update({"paths.pretrained": str(pre), "paths.head_mapping": str(mapping)})
    init_nlp(load_config(CONFIGS / "finetune.cfg", overrides=ov, interpolate=False))
    out = " ".join(capsys.readouterr().out.split())
    assert f"Encoder from pretrained pipeline {pre}: {n_tensors} tensors" in out
    assert "rows of 1 labels start from the pretrained rows (PER); 1 random (LOC)" in out
    assert "pretrained head lacks: GPE" in out
    ov["paths.pretrained"] = None
    ov["paths.head_mapping"] = None
    init_nlp(load_config(CONFIGS / "finetune.cfg", overrides=ov, interpolate=False))
    assert "baseline arm" in capsys.readouterr().out
    assert Path(pre / "config.cfg").is_file()


def test_init_alone_is_not_refused_but_training_from_python_is(tmp_path, tiny_train_overrides):
    """`init_nlp` without training (scripts, `spacy init labels`) is not checked; the
    logger refuses when spaCy's training loop starts."""
    ov = dict(tiny_train_overrides)
    ov.update({"training.patience": 3, "training.eval_frequency": 20, "training.max_steps": 0})
    nlp = init_nlp(load_config(CONFIGS / "finetune.cfg", overrides=ov, interpolate=False))
    out = tmp_path / "out"
    out.mkdir()
    stdout = io.StringIO()
    with pytest.raises(SystemExit) as info:
        train(nlp, out, stdout=stdout, stderr=io.StringIO())
    assert info.value.code == 1
    assert "Training budget refused" in " ".join(stdout.getvalue().split())


def test_a_training_run_repeats_byte_for_byte_and_records_its_threads_and_cpu_kernels(tmp_path, tiny_train_overrides):
    """The same config, data and seed at the same torch thread count give the same weights (the
    grid's fingerprints rely on it), and meta.json says the thread count and CPU kernels it ran with."""
    import json

    import torch
    from spacy.cli.train import train as spacy_train

    from nerbert_spacy.grid import pipeline_fingerprint

    prints = []
    for name in ("a", "b"):
        out = tmp_path / name
        spacy_train(CONFIGS / "finetune.cfg", out, overrides=dict(tiny_train_overrides))
        prints.append(pipeline_fingerprint(out / "model-last"))
        build = json.loads((out / "model-last" / "meta.json").read_text(encoding="utf8"))["nerbert_build"]
        assert build == {"torch": torch.__version__.split("+")[0], "torch_threads": torch.get_num_threads(),
                         "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    assert prints[0] is not None and prints[0] == prints[1]

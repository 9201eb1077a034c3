"""scripts/pretrain_digests.py: tells whether a rebuilt pretrained pipeline has the recorded files,
and places a difference down to one record of the encoder's torch state dict."""
import importlib.util
import json
from pathlib import Path

import pytest
import spacy
import torch

from nerbert_spacy.pipeline.windows import transformer_component_config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pretrain_digests.py"


def _script():
    spec = importlib.util.spec_from_file_location("pretrain_digests", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_pipeline(tiny_bert):
    """A blank pipeline with the tiny BERT as its transformer, initialised."""
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_component_config(str(tiny_bert)))
    nlp.initialize()
    return nlp


def _nudge_one_weight(nlp):
    """Change one encoder weight (the pooler's first bias), in place."""
    encoder = nlp.get_pipe("transformer").model.layers[0].shims[0]._model
    with torch.no_grad():
        encoder.pooler.dense.bias[0] += 1.0


def test_digests_find_the_one_changed_encoder_weight(tiny_bert, tmp_path, capsys):
    script = _script()
    folder = tmp_path / "model-best"
    nlp = _tiny_pipeline(tiny_bert)
    nlp.to_disk(folder)
    record = tmp_path / "digests.json"
    assert script.main([str(folder), "--write", str(record)]) == 0
    nlp.to_disk(folder)  # saved again, unchanged: the same files
    assert script.main([str(folder), "--compare", str(record)]) == 0
    assert "identical files" in capsys.readouterr().out
    _nudge_one_weight(nlp)
    nlp.to_disk(folder)
    assert script.main([str(folder), "--compare", str(record)]) == 1
    out = capsys.readouterr().out
    assert "differs in transformer/model; transformer parts that differ:" in out
    assert "/state/archive/data/" in out and "config.cfg" not in out
    assert script.main([str(tmp_path), "--compare", str(record)]) == 2
    assert "not a saved pipeline" in capsys.readouterr().err


def test_write_and_add_missing_keep_the_other_records(tiny_bert, tmp_path, capsys):
    script = _script()
    nlp = _tiny_pipeline(tiny_bert)
    first, second, record = tmp_path / "a" / "model-best", tmp_path / "b" / "model-best", tmp_path / "d.json"
    for folder in (first, second):
        folder.parent.mkdir()
        nlp.to_disk(folder)
    assert script.main([str(first), "--write", str(record)]) == 0
    # a plain comparison of a pipeline the record lacks changes nothing
    assert script.main([str(first), str(second), "--compare", str(record)]) == 0
    assert "nothing to compare" in capsys.readouterr().out
    assert set(json.loads(record.read_text())) == {first.as_posix()}
    assert script.main([str(first), str(second), "--compare", str(record), "--add-missing"]) == 0
    assert "recorded now" in capsys.readouterr().out
    saved = json.loads(record.read_text())
    assert set(saved) == {first.as_posix(), second.as_posix()}
    assert saved[second.as_posix()]["files"] == saved[first.as_posix()]["files"]
    # --write replaces the given pipeline's record and keeps the other one
    saved[first.as_posix()]["fingerprint"] = "stale"
    record.write_text(json.dumps(saved))
    assert script.main([str(first), "--write", str(record)]) == 0
    again = json.loads(record.read_text())
    assert set(again) == set(saved) and again[first.as_posix()]["fingerprint"] != "stale"
    with pytest.raises(SystemExit):
        script.main([str(first), "--write", str(record), "--add-missing"])


def test_a_difference_names_how_both_builds_ran(tiny_bert, tmp_path, capsys):
    script = _script()
    folder = tmp_path / "model-best"
    nlp = _tiny_pipeline(tiny_bert)
    nlp.meta["nerbert_build"] = {"torch": "2.13.0", "torch_threads": 2, "cpu_capability": "AVX512"}
    nlp.to_disk(folder)
    record = tmp_path / "digests.json"
    assert script.main([str(folder), "--write", str(record)]) == 0
    assert json.loads(record.read_text())[folder.as_posix()]["build"]["torch_threads"] == 2
    nlp.meta["nerbert_build"] = {"torch": "2.13.0", "torch_threads": 1, "cpu_capability": "AVX512"}
    nlp.to_disk(folder)  # meta.json alone differs: the files compared are the same
    assert script.main([str(folder), "--compare", str(record)]) == 0
    assert "this build" not in capsys.readouterr().out
    _nudge_one_weight(nlp)
    nlp.to_disk(folder)
    assert script.main([str(folder), "--compare", str(record)]) == 1
    out = capsys.readouterr().out
    assert ("this build: torch 2.13.0, 1 thread(s), AVX512 kernels; "
            "the recorded one: torch 2.13.0, 2 thread(s), AVX512 kernels") in out
    assert "not recorded" not in out
    # the same conditions on record, different bytes: said so, not blamed on the thread count
    nlp.meta["nerbert_build"] = {"torch": "2.13.0", "torch_threads": 2, "cpu_capability": "AVX512"}
    nlp.to_disk(folder)
    assert script.main([str(folder), "--compare", str(record)]) == 1
    assert "(the same: the difference comes from something not recorded)" in capsys.readouterr().out

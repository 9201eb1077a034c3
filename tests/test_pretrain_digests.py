"""scripts/pretrain_digests.py: tells whether a rebuilt pretrained pipeline has the recorded files,
and places a difference down to one record of the encoder's torch state dict."""
import importlib.util
from pathlib import Path

import spacy
import torch

from nerbert_spacy.pipeline.windows import transformer_component_config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pretrain_digests.py"


def _script():
    spec = importlib.util.spec_from_file_location("pretrain_digests", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digests_find_the_one_changed_encoder_weight(tiny_bert, tmp_path, capsys):
    script = _script()
    folder = tmp_path / "model-best"
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_component_config(str(tiny_bert)))
    nlp.initialize()
    nlp.to_disk(folder)
    record = tmp_path / "digests.json"
    assert script.main([str(folder), "--write", str(record)]) == 0
    nlp.to_disk(folder)  # saved again, unchanged: the same files
    assert script.main([str(folder), "--compare", str(record)]) == 0
    assert "identical files" in capsys.readouterr().out
    encoder = nlp.get_pipe("transformer").model.layers[0].shims[0]._model
    with torch.no_grad():
        encoder.pooler.dense.bias[0] += 1.0
    nlp.to_disk(folder)
    assert script.main([str(folder), "--compare", str(record)]) == 1
    out = capsys.readouterr().out
    assert "differs in transformer/model; transformer parts that differ:" in out
    assert "/state/archive/data/" in out and "config.cfg" not in out
    assert script.main([str(tmp_path), "--compare", str(record)]) == 2
    assert "not a saved pipeline" in capsys.readouterr().err

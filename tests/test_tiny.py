"""The tiny random BERT: the folder written whole, the size and folder checks."""
import pytest

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.tiny import write_tiny_bert


def test_write_tiny_bert_checks_and_swaps_the_folder_in(tmp_path):
    from transformers import AutoConfig

    out = tmp_path / "tiny"
    assert write_tiny_bert(out, hidden_size=8, num_layers=1, num_heads=2, seed=1) == out
    config = AutoConfig.from_pretrained(str(out))
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (8, 1, 2)
    assert config.intermediate_size == 16
    first = (out / "model.safetensors").read_bytes()
    with pytest.raises(NerbertError, match="not empty"):
        write_tiny_bert(out, hidden_size=8, num_layers=1)
    assert (out / "model.safetensors").read_bytes() == first  # refused: left as it was
    (out / "old.txt").write_text("x")
    write_tiny_bert(out, hidden_size=8, num_layers=1, num_heads=2, seed=2, force=True)
    assert not (out / "old.txt").exists() and (out / "model.safetensors").read_bytes() != first
    for sizes in ({"hidden_size": 15, "num_heads": 2}, {"num_layers": 0}, {"num_heads": 0}, {"hidden_size": 0}):
        with pytest.raises(NerbertError, match="positive multiple"):
            write_tiny_bert(tmp_path / "bad", **sizes)
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(".tmp-*"))

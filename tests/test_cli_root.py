import subprocess
import sys

from nerbert_spacy.cli import app


def test_root_help_lists_command_groups(cli_runner):
    result = cli_runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("corpus", "model", "data", "viz", "labels"):
        assert group in result.output


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "nerbert_spacy", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "corpus" in out.stdout


def test_tiny_bert_loads_offline(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_bert))
    model = AutoModel.from_pretrained(str(tiny_bert))
    ids = tok("The president of the party", return_tensors="pt")
    out = model(**ids)
    assert out.last_hidden_state.shape[-1] == 32
    assert tok.unk_token_id not in ids["input_ids"][0].tolist()[1:-1]

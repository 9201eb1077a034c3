"""Reading DocBins and loading pipelines: one error style for every bad file."""
import pytest
import spacy
from spacy.tokens import Doc, DocBin

from nerbert_spacy.docio import count_docs, docbin_paths, load_pipeline, read_docs, write_docbin
from nerbert_spacy.errors import NerbertError


@pytest.fixture
def saved_pipeline(tmp_path):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "country", "pattern": "France"}])
    nlp.to_disk(tmp_path / "nlp")
    return tmp_path / "nlp"


def test_docs_round_trip_through_files_and_folders(tmp_path):
    vocab = spacy.blank("en").vocab
    docs = [Doc(vocab, words=["a", "b"]), Doc(vocab, words=["c"])]
    assert write_docbin(docs, tmp_path / "d" / "0.spacy") == 2
    write_docbin(docs[:1], tmp_path / "d" / "1.spacy")
    assert [d.text for d in read_docs(tmp_path / "d")] == ["a b ", "c ", "a b "]
    assert count_docs(tmp_path / "d") == 3 and count_docs(tmp_path / "d" / "1.spacy") == 1
    assert [p.name for p in docbin_paths(tmp_path / "d")] == ["0.spacy", "1.spacy"]


def test_bad_docbins_are_one_line_naming_the_file(tmp_path):
    with pytest.raises(NerbertError, match="missing.spacy: DocBin not found"):
        read_docs(tmp_path / "missing.spacy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NerbertError, match="folder holds no .spacy files"):
        read_docs(tmp_path / "empty")
    (tmp_path / "bad.spacy").write_bytes(b"\x93garbage")
    with pytest.raises(NerbertError, match="bad.spacy: is not a readable spaCy DocBin"):
        read_docs(tmp_path / "bad.spacy")
    db = DocBin()
    db.add(Doc(spacy.blank("en").vocab, words=["x"] * 50))
    data = db.to_bytes()
    (tmp_path / "cut.spacy").write_bytes(data[: len(data) // 2])
    with pytest.raises(NerbertError, match="cut.spacy: is not a readable spaCy DocBin"):
        read_docs(tmp_path / "cut.spacy")


def test_load_pipeline_and_its_errors(saved_pipeline, tmp_path):
    assert load_pipeline(saved_pipeline)("I live in France").ents[0].label_ == "country"
    with pytest.raises(NerbertError, match="nope: pipeline not found"):
        load_pipeline(tmp_path / "nope")
    (tmp_path / "plain").mkdir()
    with pytest.raises(NerbertError, match="not a saved spaCy pretrained pipeline"):
        load_pipeline(tmp_path / "plain", what="pretrained pipeline")


def test_truncated_weights_are_one_line(saved_pipeline, tmp_path, cli_runner, tiny_bert):
    """A pipeline whose weights file was cut short ("Unpack failed" inside spaCy)."""
    from nerbert_spacy.cli import app

    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": {"name": str(tiny_bert)}})
    nlp.initialize()
    nlp.to_disk(tmp_path / "trf")
    weights = tmp_path / "trf" / "transformer" / "model"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(NerbertError, match="trf: cannot load the pipeline .*truncated"):
        load_pipeline(tmp_path / "trf")
    test = tmp_path / "test.spacy"
    write_docbin([Doc(spacy.blank("en").vocab, words=["France"], ents=["B-country"])], test)
    r = cli_runner.invoke(app, ["evaluate", str(tmp_path / "trf"), str(test)])
    assert r.exit_code == 1
    assert "cannot load the pipeline" in r.output and "Traceback" not in r.output

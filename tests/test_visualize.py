"""displaCy pages and the t-SNE figure (paper Figure 3) on tiny random BERT pipelines."""
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import DocBin, Span

from nerbert_spacy.cli import app
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.visualize import first_subword_vectors, render_displacy, sample_entities

PEOPLE = ["John Smith", "Paul Smith", "Angela Merkel", "Barack Obama"]
PLACES = ["London", "Paris", "Berlin", "New York"]


def _gold_docs(n=24):
    nlp = spacy.blank("en")
    docs = []
    for k in range(n):
        p, c = PEOPLE[k % 4], PLACES[(k // 4) % 4]
        doc = nlp(f"The president {p} was born in {c} .")
        i, j = doc.text.index(p), doc.text.index(c)
        doc.ents = [doc.char_span(i, i + len(p), "PER"), doc.char_span(j, j + len(c), "LOC")]
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def test_spacy(tmp_path_factory):
    path = tmp_path_factory.mktemp("viz") / "test.spacy"
    DocBin(docs=_gold_docs()).to_disk(path)
    return path


def _weak_doc():
    nlp = spacy.blank("en")
    doc = nlp("Angela Merkel visited New York City")
    doc.ents = [Span(doc, 0, 2, "politician", kb_id="Angela_Merkel"), Span(doc, 3, 6, "city", kb_id="New_York_City")]
    doc.spans["anchors"] = [Span(doc, 0, 2, "politician"), Span(doc, 3, 5, "state"), Span(doc, 3, 6, "city")]
    return doc


def test_displacy_ent_page(tmp_path):
    stats = render_displacy([_weak_doc()], tmp_path / "ents.html")
    html = (tmp_path / "ents.html").read_text(encoding="utf8")
    assert stats == {"docs": 1, "spans": 2}
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "politician" in html and "Angela" in html
    assert "https://en.wikipedia.org/wiki/Angela_Merkel" in html


def test_displacy_span_page_shows_overlaps(tmp_path):
    doc = _weak_doc()
    other = spacy.blank("en")("no anchors here")
    stats = render_displacy([doc, other], tmp_path / "spans.html", spans_key="anchors")
    html = (tmp_path / "spans.html").read_text(encoding="utf8")
    assert stats == {"docs": 2, "spans": 3}
    assert "state" in html and "city" in html and "no anchors here" in html


def test_viz_displacy_cli(cli_runner, test_spacy, tmp_path):
    out = tmp_path / "p.html"
    result = cli_runner.invoke(app, ["viz", "displacy", str(test_spacy), "--output", str(out), "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "3 docs, 6 spans" in result.output
    assert out.read_text(encoding="utf8").count("PER") >= 3


def test_sample_entities_seeded():
    docs = _gold_docs()
    a = sample_entities(docs, 10, seed=1)
    assert a == sample_entities(docs, 10, seed=1)
    assert a != sample_entities(docs, 10, seed=2)
    assert len(a) == 10 and len(sample_entities(docs, 1000, seed=1)) == 48


def _transformer_pipeline(encoder, path):
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": {"name": str(encoder), "tokenizer_config": {"use_fast": True}}})
    nlp.initialize()
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def pipelines(tiny_bert, tmp_path_factory):
    from nerbert_spacy.tiny import make_tiny_bert

    root = tmp_path_factory.mktemp("pipes")
    other = make_tiny_bert(root / "bert1", seed=1)
    return [_transformer_pipeline(tiny_bert, root / "a"), _transformer_pipeline(other, root / "b")]


@pytest.mark.slow
def test_first_subword_vectors_match_the_encoder(pipelines, tiny_bert):
    import torch
    from transformers import AutoModel, AutoTokenizer

    nlp = spacy.load(pipelines[0])
    doc = nlp("The president Smithers was born in London .")
    got = first_subword_vectors(doc, [2, 7])
    tok = AutoTokenizer.from_pretrained(str(tiny_bert))
    enc = tok(doc.text, return_tensors="pt", return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping")[0].tolist()
    with torch.no_grad():
        hidden = AutoModel.from_pretrained(str(tiny_bert))(**enc).last_hidden_state[0].numpy()
    for row, token in zip(got, [doc[2], doc[7]]):
        first = next(i for i, (a, b) in enumerate(offsets) if a == token.idx and b > a)
        numpy.testing.assert_allclose(row, hidden[first], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_tsne_png_side_by_side(pipelines, test_spacy, tmp_path, cli_runner):
    out = tmp_path / "fig3.png"
    result = cli_runner.invoke(
        app,
        ["viz", "tsne", str(test_spacy), "--model", str(pipelines[0]), "--model", str(pipelines[1]),
         "--name", "seed 0", "--name", "seed 1", "--output", str(out), "--max-entities", "40", "--seed", "0"],
    )
    assert result.exit_code == 0, result.output
    assert "t-SNE of 40 entities (2 types)" in result.output
    assert "seed 0: silhouette" in result.output and "seed 1: silhouette" in result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    img = matplotlib.image.imread(out)
    assert img.shape[1] > 1.8 * img.shape[0]  # two panels side by side


def test_tsne_errors(test_spacy, tmp_path):
    from nerbert_spacy.visualize import tsne_figure

    with pytest.raises(NerbertError, match="at least one pipeline"):
        tsne_figure(test_spacy, [], tmp_path / "x.png")
    with pytest.raises(NerbertError, match="not found"):
        tsne_figure(tmp_path / "none.spacy", ["x"], tmp_path / "x.png")
    empty = tmp_path / "empty.spacy"
    DocBin(docs=[spacy.blank("en")("no entities")]).to_disk(empty)
    with pytest.raises(NerbertError, match="only 0 gold entities"):
        tsne_figure(empty, ["x"], tmp_path / "x.png")


def test_tsne_takes_a_plain_encoder_folder_as_the_untrained_panel(pipelines, tiny_bert, test_spacy, tmp_path):
    """The paper's "BERT" panel: an encoder folder (no spaCy config) beside a saved pipeline; the
    panel's vectors are the encoder's own first-sub-word outputs."""
    import numpy

    from nerbert_spacy.visualize import encoder_pipeline, entity_representations, tsne_figure

    out = tmp_path / "fig3.png"
    stats = tsne_figure(test_spacy, [tiny_bert, pipelines[0]], out, names=["BERT", "NER-BERT"], max_entities=40)
    assert set(stats["models"]) == {"BERT", "NER-BERT"}
    assert all("silhouette" in s for s in stats["models"].values())
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same encoder weights as a folder or inside a saved pipeline give the same vectors
    gold = list(DocBin().from_disk(test_spacy).get_docs(spacy.blank("en").vocab))
    ents = [(d, e.start) for d, doc in enumerate(gold) for e in doc.ents][:10]
    plain = entity_representations(encoder_pipeline(tiny_bert), gold, ents)
    saved = entity_representations(spacy.load(pipelines[0]), gold, ents)
    assert plain.shape == saved.shape and numpy.abs(plain).sum() > 0
    numpy.testing.assert_allclose(plain, saved, atol=1e-5)


def test_encoder_pipeline_names_a_folder_that_is_no_encoder(tmp_path):
    from nerbert_spacy.visualize import encoder_pipeline

    with pytest.raises(NerbertError, match="no config.json"):
        encoder_pipeline(tmp_path)


def test_encoder_panel_reads_through_the_windows_of_the_pipelines_beside_it(pipelines, tiny_bert, tmp_path):
    """An encoder folder's panel copies the transformer settings of the first saved pipeline in the
    figure (here one saved with windows of 17 tokens, stride 11), so every panel encodes the same
    windows."""
    import shutil

    from nerbert_spacy.visualize import _panel_pipelines, transformer_settings

    saved_dir = tmp_path / "narrow"
    shutil.copytree(pipelines[0], saved_dir)
    cfg = (saved_dir / "config.cfg").read_text(encoding="utf8")
    assert "window = 128" in cfg and "stride = 96" in cfg
    (saved_dir / "config.cfg").write_text(cfg.replace("window = 128", "window = 17").replace("stride = 96", "stride = 11"))
    plain, saved = _panel_pipelines([tiny_bert, saved_dir])
    for nlp in (plain, saved):
        spans = nlp.config["components"]["transformer"]["model"]["get_spans"]
        assert (spans["window"], spans["stride"]) == (17, 11)
    assert plain.config["components"]["transformer"]["model"]["name"] == str(tiny_bert)
    assert "factory" not in transformer_settings(saved)
    # alone, an encoder folder gets the configs' windows
    (alone,) = _panel_pipelines([tiny_bert])
    assert alone.config["components"]["transformer"]["model"]["get_spans"]["window"] == 128


@pytest.mark.parametrize("config_file", ["configs/pretrain.cfg", "configs/finetune.cfg"])
def test_code_built_transformer_matches_the_shipped_configs(config_file):
    """transformer_component_config (encoder panels, Hugging Face imports) is the configs' block."""
    from thinc.api import Config

    from nerbert_spacy.pipeline.windows import transformer_component_config

    path = Path(__file__).resolve().parents[1] / config_file
    block = Config().from_disk(path, interpolate=False)["components"]["transformer"]
    block = {k: v for k, v in block.items() if k != "factory"}
    block["model"] = dict(block["model"], name="ENCODER")
    assert transformer_component_config("ENCODER") == block

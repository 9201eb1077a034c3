"""Fine-tuning initialisation: NER-BERT encoder weights, fresh head, baseline arm, head transfer."""
from pathlib import Path

import numpy
import pytest
import spacy
import srsly
import torch
from helpers import strided_transformer, train_and_save
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.util import load_config
from spacy.vocab import Vocab
from thinc.api import fix_random_seed

from nerbert_spacy.bio import tag_index
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.pipeline.callbacks import create_init_from_pretrained, read_head_mapping

FINETUNE = Path(__file__).resolve().parent.parent / "configs" / "finetune.cfg"


def _pretrain_nlp(encoder):
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=strided_transformer(encoder))
    nlp.add_pipe("bio_tagger")
    return nlp


@pytest.fixture(scope="module")
def pretrained(tiny_bert, tmp_path_factory):
    """A 'NER-BERT' (labels LOC, ORG, PER) trained a few steps, saved to disk."""
    fix_random_seed(0)
    nlp = _pretrain_nlp(tiny_bert)
    examples = []
    for i in range(8):
        words = ["the", "president", "John", "Smith", "of", "IBM", "was", "born", "in", "Paris", "."]
        ref = Doc(nlp.vocab, words=words)
        ref.ents = [Span(ref, 2, 4, "PER"), Span(ref, 5, 6, "ORG"), Span(ref, 9, 10, "LOC")]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    path = tmp_path_factory.mktemp("nerbert") / "model-best"
    return train_and_save(nlp, examples, path, learn_rate=1e-3, steps=3)


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    """A target domain with other labels (country, politician, misc)."""
    vocab = Vocab()
    folder = tmp_path_factory.mktemp("domain")
    db = DocBin()
    for i in range(6):
        words = ["Angela", "Merkel", "visited", "France", "for", "the", "summit", "."]
        doc = Doc(vocab, words=words)
        doc.ents = [Span(doc, 0, 2, "politician"), Span(doc, 3, 4, "country"), Span(doc, 6, 7, "misc")]
        db.add(doc)
    db.to_disk(folder / "train.spacy")
    return folder / "train.spacy"


def finetune_nlp(domain, encoder, pretrained=None, head_mapping=None, seed=0):
    overrides = {
        "paths.train": str(domain),
        "paths.dev": str(domain),
        "paths.encoder": str(encoder),
        "system.seed": seed,
    }
    if pretrained is not None:
        overrides["paths.pretrained"] = str(pretrained)
    if head_mapping is not None:
        overrides["paths.head_mapping"] = str(head_mapping)
    return init_nlp(load_config(FINETUNE, overrides=overrides, interpolate=False))


def _state(nlp):
    return {k: v.detach().cpu().clone() for k, v in nlp.get_pipe("transformer").model.transformer.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_nerbert_arm_loads_encoder_weights_and_fresh_head(pretrained, domain, tiny_bert):
    src = spacy.load(pretrained)
    nlp = finetune_nlp(domain, tiny_bert, pretrained=pretrained)
    assert _same_state(_state(nlp), _state(src))
    tagger = nlp.get_pipe("bio_tagger")
    assert tagger.labels == ("country", "misc", "politician")
    out = tagger.model.get_ref("output_layer")
    assert out.get_dim("nO") == 7
    src_out = src.get_pipe("bio_tagger").model.get_ref("output_layer")
    assert src_out.get_dim("nO") == 7  # same size by coincidence, but not the same rows
    assert not numpy.allclose(out.get_param("W"), src_out.get_param("W"))
    assert nlp.meta["nerbert"]["init"]["pretrained"] == str(pretrained)
    # listener wiring survived: the head still receives the (new) transformer's output
    trf = nlp.get_pipe("transformer")
    assert trf.listening_components == ["bio_tagger"]
    words = ["Angela", "Merkel", "visited", "France", "."]
    ref = Doc(nlp.vocab, words=words, ents=["B-politician", "I-politician", "O", "B-country", "O"])
    eg = Example(Doc(nlp.vocab, words=words), ref)
    optimizer = nlp.create_optimizer()
    before = _state(nlp)
    losses = nlp.update([eg], sgd=None)  # as `spacy train`: update all, then finish_update all
    for _, proc in nlp.pipeline:
        proc.finish_update(optimizer)
    assert losses["bio_tagger"] > 0
    assert not _same_state(before, _state(nlp))  # gradients reached the copied encoder


def test_baseline_arm_keeps_plain_encoder(pretrained, domain, tiny_bert):
    from transformers import AutoModel

    nlp = finetune_nlp(domain, tiny_bert)
    plain = {k: v.detach().clone() for k, v in AutoModel.from_pretrained(str(tiny_bert)).state_dict().items()}
    state = _state(nlp)
    assert all(torch.equal(state[k], plain[k]) for k in plain if k in state)
    assert not _same_state(state, _state(spacy.load(pretrained)))
    assert nlp.meta["nerbert"]["init"] == {"pretrained": None}
    assert nlp.get_pipe("bio_tagger").labels == ("country", "misc", "politician")


def test_head_transfer_copies_mean_rows(pretrained, domain, tiny_bert, tmp_path):
    mapping = tmp_path / "mapping.json"
    srsly.write_json(mapping, {"country": ["LOC"], "politician": ["PER", "ORG"], "misc": ["NOPE"], "party": ["building"]})
    nlp = finetune_nlp(domain, tiny_bert, pretrained=pretrained, head_mapping=mapping)
    no_transfer = finetune_nlp(domain, tiny_bert, pretrained=pretrained)
    src = spacy.load(pretrained).get_pipe("bio_tagger")
    W_src = src.model.get_ref("output_layer").get_param("W")
    b_src = src.model.get_ref("output_layer").get_param("b")
    W = nlp.get_pipe("bio_tagger").model.get_ref("output_layer").get_param("W")
    b = nlp.get_pipe("bio_tagger").model.get_ref("output_layer").get_param("b")
    W_fresh = no_transfer.get_pipe("bio_tagger").model.get_ref("output_layer").get_param("W")
    s = {label: i for i, label in enumerate(src.labels)}  # LOC, ORG, PER
    t = {label: i for i, label in enumerate(nlp.get_pipe("bio_tagger").labels)}  # country, misc, politician
    numpy.testing.assert_allclose(W[0], W_src[0])
    numpy.testing.assert_allclose(b[0], b_src[0])
    for prefix in ("B", "I"):
        numpy.testing.assert_allclose(W[tag_index(t["country"], prefix)], W_src[tag_index(s["LOC"], prefix)])
        mean = (W_src[tag_index(s["PER"], prefix)] + W_src[tag_index(s["ORG"], prefix)]) / 2
        numpy.testing.assert_allclose(W[tag_index(t["politician"], prefix)], mean, rtol=1e-5, atol=1e-7)
        b_mean = (b_src[tag_index(s["PER"], prefix)] + b_src[tag_index(s["ORG"], prefix)]) / 2
        assert b[tag_index(t["politician"], prefix)] == pytest.approx(float(b_mean), abs=1e-6)
        # unmapped label: the fresh random rows of the same seed without transfer
        numpy.testing.assert_allclose(W[tag_index(t["misc"], prefix)], W_fresh[tag_index(t["misc"], prefix)])
    info = nlp.meta["nerbert"]["init"]["head_transfer"]
    assert info["transferred"] == {"country": ["LOC"], "politician": ["PER", "ORG"]}
    assert info["random"] == ["misc"]
    assert info["unknown_sources"] == ["NOPE"]  # mapped but not a label of the pretrained head


def test_errors_are_clear(pretrained, tmp_path):
    with pytest.raises(NerbertError, match="needs a pretrained pipeline"):
        create_init_from_pretrained(None, str(tmp_path / "m.json"))
    assert create_init_from_pretrained("null", None)(spacy.blank("en")).meta["nerbert"]["init"]["pretrained"] is None
    callback = create_init_from_pretrained(str(tmp_path / "nope"), None)
    with pytest.raises(NerbertError, match="not found"):
        callback(spacy.blank("en"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf8")
    with pytest.raises(NerbertError, match="bad.json"):
        read_head_mapping(bad)
    wrong = tmp_path / "wrong.json"
    srsly.write_json(wrong, {"country": [1, 2]})
    with pytest.raises(NerbertError, match="country"):
        read_head_mapping(wrong)
    full = tmp_path / "full.json"  # the format of `nerbert labels map`
    srsly.write_json(full, {"version": 1, "target": {"a": {"pretrained": ["LOC"], "rule": {"LOC": "exact"}}, "b": []}})
    assert read_head_mapping(full) == {"a": ["LOC"], "b": []}
    with pytest.raises(NerbertError, match="missing.json"):
        read_head_mapping(tmp_path / "missing.json")


def test_hidden_size_mismatch_is_reported(pretrained, domain, tmp_path):
    from nerbert_spacy.tiny import make_tiny_bert

    narrow = make_tiny_bert(tmp_path / "narrow", hidden_size=16, num_layers=1)
    with pytest.raises(NerbertError, match="hidden size 32"):
        finetune_nlp(domain, narrow, pretrained=pretrained)

"""The bio_tagger component on a tiny random BERT: init, training, decoding, serialisation."""
import numpy
import pytest
import spacy
from helpers import strided_transformer
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Ragged, fix_random_seed

from nerbert_spacy.bio import is_valid_bio, labels_to_tags
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.pipeline.bio_tagger import BioTagger, bio_score, make_bio_scorer
from nerbert_spacy.pipeline.layers import reduce_first_safe

CITIES = ["Paris", "London", "Berlin", "York"]
PEOPLE = [("John", "Smith"), ("Paul", "Smith"), ("John", "Paul")]


def toy_examples(nlp, n=24):
    """Sentences 'the president F L was born in CITY .' with PER and LOC."""
    examples = []
    for i in range(n):
        first, last = PEOPLE[i % len(PEOPLE)]
        city = CITIES[i % len(CITIES)]
        words = ["the", "president", first, last, "was", "born", "in", city, "."]
        ref = Doc(nlp.vocab, words=words)
        ref.ents = [Span(ref, 2, 4, "PER"), Span(ref, 7, 8, "LOC")]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    return examples


def make_nlp(encoder, pooling="nerbert.reduce_first.v1"):
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=strided_transformer(encoder, tokenizer_config={"use_fast": True}))
    nlp.add_pipe(
        "bio_tagger",
        config={
            "model": {
                "@architectures": "nerbert.BioTagger.v1",
                "tok2vec": {
                    "@architectures": "spacy-transformers.TransformerListener.v1",
                    "pooling": {"@layers": pooling},
                },
            }
        },
    )
    return nlp


@pytest.fixture(scope="module")
def trained(tiny_bert):
    """A pipeline trained on the toy pattern, with its loss curve."""
    fix_random_seed(0)
    nlp = make_nlp(tiny_bert)
    examples = toy_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 2e-3
    curve = []
    for step in range(40):
        batch = [examples[(step * 8 + j) % len(examples)] for j in range(8)]
        losses = nlp.update(batch, sgd=optimizer)
        curve.append(losses["bio_tagger"])
    return nlp, examples, curve


def test_initialize_takes_labels_from_data(tiny_bert):
    nlp = make_nlp(tiny_bert)
    examples = toy_examples(nlp, 4)
    nlp.initialize(lambda: examples)
    tagger = nlp.get_pipe("bio_tagger")
    assert isinstance(tagger, BioTagger)
    assert tagger.labels == ("LOC", "PER")
    assert tagger.tags == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    output = tagger.model.get_ref("output_layer")
    assert output.get_dim("nO") == 5
    assert output.get_dim("nI") == 32
    scores = tagger.predict([examples[0].predicted])
    assert scores[0].shape == (9, 5)
    assert numpy.allclose(scores[0].sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(NerbertError):
        tagger.add_label("ORG")


def test_initialize_with_explicit_labels_and_no_labels(tiny_bert):
    nlp = make_nlp(tiny_bert)
    examples = toy_examples(nlp, 2)
    nlp.config["initialize"]["components"]["bio_tagger"] = {"labels": ["ORG", "PER", "ORG"]}
    nlp.initialize(lambda: examples)
    tagger = nlp.get_pipe("bio_tagger")
    assert tagger.labels == ("ORG", "PER")
    assert tagger.label_data == ["ORG", "PER"]
    nlp2 = make_nlp(tiny_bert)
    plain = [Example(Doc(nlp2.vocab, words=["a", "b"]), Doc(nlp2.vocab, words=["a", "b"]))]
    with pytest.raises(NerbertError, match="no entity labels"):
        nlp2.initialize(lambda: plain)
    with pytest.raises(NerbertError):
        nlp2.get_pipe("bio_tagger").add_label("B-PER")


def test_training_lowers_loss_and_learns_pattern(trained):
    nlp, examples, curve = trained
    assert numpy.mean(curve[-5:]) < 0.25 * numpy.mean(curve[:3])
    scores = nlp.evaluate(examples)
    assert scores["ents_f"] > 0.9
    assert set(scores["ents_per_type"]) == {"LOC", "PER"}
    doc = nlp("the president Paul Smith was born in London .")
    assert [(e.text, e.label_) for e in doc.ents] == [("Paul Smith", "PER"), ("London", "LOC")]


def test_annotations_spans_and_confidences(trained):
    nlp, _, _ = trained
    doc = nlp("the president John Smith was born in Paris .")
    group = doc.spans["bio_tagger"]
    assert [(s.start, s.end, s.label_) for s in group] == [(e.start, e.end, e.label_) for e in doc.ents]
    assert len(group.attrs["scores"]) == len(group)
    assert all(0.0 < s <= 1.0 for s in group.attrs["scores"])
    tags = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ != "O" else "O" for t in doc]
    assert is_valid_bio(tags)


def test_pipe_batches_and_empty_docs(trained):
    nlp, _, _ = trained
    texts = ["", "the president John Paul was born in Berlin .", "", "born in York", " "]
    docs = list(nlp.pipe(texts, batch_size=2))
    assert [len(d.ents) for d in docs][0] == 0
    assert docs[1].ents and docs[1].spans["bio_tagger"].attrs["scores"]
    single = [nlp(t) for t in texts]
    for a, b in zip(docs, single):
        assert [(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]
    assert list(nlp.pipe(["", ""])) and all(len(d.ents) == 0 for d in nlp.pipe(["", ""]))


def test_disk_and_bytes_round_trip(trained, tmp_path):
    nlp, examples, _ = trained
    texts = ["the president Paul Smith was born in London .", "John Smith in Paris"]
    before = [nlp.get_pipe("bio_tagger").predict([nlp.get_pipe("transformer")(nlp.make_doc(t))])[0] for t in texts]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("bio_tagger").labels == ("LOC", "PER")
    after = [loaded.get_pipe("bio_tagger").predict([loaded.get_pipe("transformer")(loaded.make_doc(t))])[0] for t in texts]
    for x, y in zip(before, after):
        numpy.testing.assert_allclose(x, y, atol=1e-5)
    for t in texts:
        d1, d2 = nlp(t), loaded(t)
        assert [(e.start, e.end, e.label_) for e in d1.ents] == [(e.start, e.end, e.label_) for e in d2.ents]
        assert d1.spans["bio_tagger"].attrs["scores"] == pytest.approx(d2.spans["bio_tagger"].attrs["scores"], abs=1e-4)
    from spacy.util import load_model_from_config

    clone = load_model_from_config(nlp.config, auto_fill=True)
    clone.from_bytes(nlp.to_bytes())
    assert clone.get_pipe("bio_tagger").labels == ("LOC", "PER")
    d1, d3 = nlp(texts[0]), clone(texts[0])
    assert [(e.start, e.end, e.label_) for e in d1.ents] == [(e.start, e.end, e.label_) for e in d3.ents]


def test_loss_ignores_missing_tokens(trained):
    nlp, _, _ = trained
    tagger = nlp.get_pipe("bio_tagger")
    words = ["the", "president", "John", "Smith"]
    pred = Doc(nlp.vocab, words=words)
    ref = Doc(nlp.vocab, words=words, ents=["O", "O", "B-PER", "I-PER"])
    partial = Doc(nlp.vocab, words=words, ents=[None, "O", "B-PER", "I-PER"])  # token 0 missing
    probs = [numpy.full((4, 5), 0.2, dtype="f")]
    loss_full, d_full = tagger.get_loss([Example(pred, ref)], probs)
    loss_part, d_part = tagger.get_loss([Example(pred, partial)], probs)
    assert loss_full == pytest.approx(-4 * numpy.log(0.2), rel=1e-4)
    assert loss_part == pytest.approx(-3 * numpy.log(0.2), rel=1e-4)
    assert numpy.all(d_part[0][0] == 0) and not numpy.all(d_full[0][0] == 0)
    assert d_full[0][2, 3] == pytest.approx(0.2 - 1.0)


def test_mean_pooling_option_and_safe_first_pooling(tiny_bert):
    nlp = make_nlp(tiny_bert, pooling="reduce_mean.v1")
    examples = toy_examples(nlp, 4)
    nlp.initialize(lambda: examples)
    assert nlp.get_pipe("bio_tagger").predict([examples[0].predicted])[0].shape == (9, 5)
    layer = reduce_first_safe()
    X = numpy.arange(12, dtype="f").reshape(6, 2)
    lengths = numpy.array([2, 0, 3, 1], dtype="i")
    Y, backprop = layer(Ragged(X, lengths), is_train=True)
    numpy.testing.assert_array_equal(Y, [[0, 1], [0, 0], [4, 5], [10, 11]])
    dX = backprop(numpy.ones((4, 2), dtype="f")).data
    numpy.testing.assert_array_equal(dX[:, 0], [1, 0, 1, 0, 0, 1])


def test_scorer_reports_prf_per_type():
    nlp = spacy.blank("en")
    words = ["John", "Smith", "in", "Paris"]
    ref = Doc(nlp.vocab, words=words, ents=["B-PER", "I-PER", "O", "B-LOC"])
    pred = Doc(nlp.vocab, words=words, ents=["B-PER", "I-PER", "O", "B-PER"])
    scores = make_bio_scorer()([Example(pred, ref)])
    assert scores is not None and scores["ents_p"] == pytest.approx(0.5)
    assert scores["ents_r"] == pytest.approx(0.5)
    assert scores["ents_f"] == pytest.approx(0.5)
    assert scores["ents_per_type"]["PER"]["p"] == pytest.approx(0.5)
    assert scores["ents_per_type"]["LOC"]["r"] == pytest.approx(0.0)
    assert bio_score is make_bio_scorer()
    assert labels_to_tags([]) == ["O"]


def test_spacy_load_finds_components_without_imports(trained, tmp_path):
    """Entry points: a fresh interpreter loads the pipeline with no nerbert import."""
    import subprocess
    import sys

    nlp, _, _ = trained
    nlp.to_disk(tmp_path / "model")
    code = (
        "import sys, spacy; nlp = spacy.load(sys.argv[1]); "
        "doc = nlp('the president Paul Smith was born in London .'); "
        "print([(e.text, e.label_) for e in doc.ents], len(doc.spans['bio_tagger'].attrs['scores']))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "('Paul Smith', 'PER')" in out.stdout and "('London', 'LOC')" in out.stdout

"""Temperature scaling: ECE, fitting (synthetic over-confident and calibrated cases),
the bio_tagger's temperature setting, and ``nerbert model calibrate``."""
import shutil

import numpy
import pytest
import spacy
from helpers import SENTENCES, person_city_examples
from spacy.tokens import DocBin

from nerbert_spacy.bio import decode_bio, labels_to_tags, spans_from_tags
from nerbert_spacy.calibration import (
    TaggedData,
    calibration_summary,
    entity_confidences,
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
)
from nerbert_spacy.pipeline.bio_tagger import min_token_margin, tag_scores

TAGS = labels_to_tags(["A", "B"])


def test_ece_by_hand():
    # bin 9: conf .95, accuracy .5 -> .45; bin 5: conf .55, accuracy 1 -> .45; each half the mass
    assert expected_calibration_error([0.95, 0.95, 0.55, 0.55], [1, 0, 1, 1]) == pytest.approx(0.45)
    assert expected_calibration_error([1.0, 0.05], [1, 0]) == pytest.approx(0.025)
    assert expected_calibration_error([], []) == 0.0


def _random_bio(rng, n_tokens):
    tags, i = [], 0
    while i < n_tokens:
        if rng.random() < 0.4:
            label = "AB"[rng.integers(2)]
            length = min(int(rng.integers(1, 3)), n_tokens - i)
            tags += [f"B-{label}"] + [f"I-{label}"] * (length - 1)
            i += length
        else:
            tags.append("O")
            i += 1
    return tags


def _synthetic(rng, overconfident: bool, n_docs=400, n_tokens=8):
    """Docs of gold BIO tags and logits: over-confident (the arg-max is right 70% of
    the time, at ~99.9% probability) or calibrated (gold drawn from softmax(logits))."""
    index = {t: i for i, t in enumerate(TAGS)}
    logits, gold_ids, gold_spans = [], [], []
    for _ in range(n_docs):
        if overconfident:
            gold = _random_bio(rng, n_tokens)
            ids = numpy.array([index[t] for t in gold])
            guess = numpy.where(rng.random(n_tokens) < 0.7, ids, rng.integers(len(TAGS), size=n_tokens))
            lg = rng.normal(0, 0.3, (n_tokens, len(TAGS)))
            lg[numpy.arange(n_tokens), guess] += 9.0
        else:
            lg = rng.normal(0, 2.0, (n_tokens, len(TAGS)))
            p = softmax(lg)
            ids = numpy.array([rng.choice(len(TAGS), p=row) for row in p])
            gold = [TAGS[i] for i in ids]
        logits.append(lg)
        gold_ids.append(ids)
        gold_spans.append(set(spans_from_tags(gold)))
    return TaggedData(logits=logits, gold_tags=gold_ids, gold_spans=gold_spans, tags=TAGS)


def test_temperature_lowers_ece_on_overconfident_case():
    data = _synthetic(numpy.random.default_rng(0), overconfident=True)
    logits, gold = data.token_arrays()
    t = fit_temperature(logits, gold)
    assert t > 2.0
    before, after = calibration_summary(data, 1.0), calibration_summary(data, t)
    assert before["mean_confidence"] > before["accuracy"] + 0.25  # over-confident entities
    assert after["ece"] < 0.5 * before["ece"]
    assert after["nll"] < before["nll"]
    # decoding does not depend on the temperature: same entities, only the confidences move
    assert before["entities"] == after["entities"] and before["accuracy"] == after["accuracy"]


def test_calibrated_case_keeps_temperature_near_one():
    data = _synthetic(numpy.random.default_rng(1), overconfident=False, n_docs=1500)
    logits, gold = data.token_arrays()
    assert fit_temperature(logits, gold) == pytest.approx(1.0, abs=0.08)


def test_fitted_temperature_is_the_nll_minimum():
    data = _synthetic(numpy.random.default_rng(2), overconfident=True, n_docs=100)
    logits, gold = data.token_arrays()
    t = fit_temperature(logits, gold)
    assert nll(logits, gold, t) <= min(nll(logits, gold, t * 1.05), nll(logits, gold, t / 1.05))


def _dev(tmp_path, nlp):
    path = tmp_path / "dev.spacy"
    DocBin(docs=[eg.reference for eg in person_city_examples(nlp)]).to_disk(path)
    return path


def test_calibrate_cli_writes_temperature_used_by_scores(cli_runner, pipeline_dir, tmp_path):
    from nerbert_spacy.cli import app

    dev = _dev(tmp_path, spacy.blank("en"))
    out = tmp_path / "calibrated"
    report = tmp_path / "report.json"
    args = ["model", "calibrate", str(pipeline_dir), str(dev), "-o", str(out), "--eval", str(dev), "--report", str(report)]
    result = cli_runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "ECE" in result.output and "eval:" in result.output
    data = __import__("json").loads(report.read_text())
    t = data["temperature"]
    assert t != pytest.approx(1.0, abs=1e-3)
    assert f"temperature = {t}" in (out / "config.cfg").read_text()
    assert data["dev"]["after"]["nll"] <= data["dev"]["before"]["nll"]
    raw, calibrated = spacy.load(pipeline_dir), spacy.load(out)
    assert calibrated.get_pipe("bio_tagger").temperature == t
    for text in SENTENCES:
        d_raw, d_cal = raw(text), calibrated(text)
        assert [(e.start, e.end, e.label_) for e in d_raw.ents] == [(e.start, e.end, e.label_) for e in d_cal.ents]
        _, (logits,) = tag_scores(raw, [raw.make_doc(text)], logits=True)
        _, expected = decode_bio(softmax(logits, t), _tags_of(raw), "mean")
        assert d_cal.spans["bio_tagger"].attrs["scores"] == pytest.approx([s for *_, s in expected], abs=1e-5)
    # the config wins over the temperature saved with the weights
    back = spacy.load(out, config={"components": {"bio_tagger": {"temperature": 1.0}}})
    _, p_back = tag_scores(back, [back.make_doc(SENTENCES[0])])
    _, p_raw = tag_scores(raw, [raw.make_doc(SENTENCES[0])])
    assert numpy.abs(p_back[0] - p_raw[0]).max() < 1e-6


def _tags_of(nlp):
    return nlp.get_pipe("bio_tagger").tags


def test_config_without_temperature_loads_unchanged(pipeline_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(pipeline_dir, old)
    cfg = (old / "config.cfg").read_text()
    assert "temperature = 1.0\n" in cfg
    (old / "config.cfg").write_text(cfg.replace("temperature = 1.0\n", ""))
    nlp, ref = spacy.load(old), spacy.load(pipeline_dir)
    assert nlp.get_pipe("bio_tagger").temperature == 1.0
    _, (p_old,) = tag_scores(nlp, [nlp.make_doc(SENTENCES[1])])
    _, (p_ref,) = tag_scores(ref, [ref.make_doc(SENTENCES[1])])
    assert numpy.array_equal(p_old, p_ref)
    with pytest.raises(Exception, match="temperature must be a positive number"):
        spacy.load(pipeline_dir, config={"components": {"bio_tagger": {"temperature": 0.0}}})


def test_min_margin_attr(pipeline_dir):
    nlp = spacy.load(pipeline_dir)
    doc = nlp(SENTENCES[1])
    _, (probs,) = tag_scores(nlp, [nlp.make_doc(SENTENCES[1])])
    top = numpy.sort(probs, axis=1)
    assert doc.spans["bio_tagger"].attrs["min_margin"] == pytest.approx(float((top[:, -1] - top[:, -2]).min()), abs=1e-6)
    assert min_token_margin(numpy.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]])) == pytest.approx(0.2)
    assert "min_margin" not in nlp("").spans["bio_tagger"].attrs


def test_entity_confidences_mark_exact_matches():
    lg = numpy.full((3, len(TAGS)), -5.0)
    lg[0, TAGS.index("B-A")] = lg[1, TAGS.index("I-A")] = lg[2, TAGS.index("B-B")] = 5.0
    data = TaggedData(logits=[lg], gold_tags=[numpy.zeros(3, dtype=int)], gold_spans=[{(0, 2, "A")}], tags=TAGS)
    conf, ok = entity_confidences(data)
    assert ok.tolist() == [True, False] and len(conf) == 2

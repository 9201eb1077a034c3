"""seqeval evaluation: agreement with seqeval and spaCy, aggregation, tables, CLI."""
import pytest
import spacy
import srsly
from seqeval.metrics import (
    classification_report,
    f1_score,
    precision_score,
    recall_score,
)
from spacy.scorer import Scorer
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from nerbert_spacy.bio import doc_to_bio
from nerbert_spacy.cli import app
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.evaluation import (
    PAPER_TABLE2,
    aggregate,
    evaluate_pipeline,
    format_cell,
    paper_domain,
    render_table,
    score_bio,
    score_docs,
)

GOLD = [
    ["B-per", "I-per", "O", "B-loc", "O"],
    ["B-org", "I-org", "I-org", "O"],
    ["O", "B-per", "O", "B-misc"],
]
PRED = [
    ["B-per", "I-per", "O", "B-org", "O"],  # per right, loc typed as org
    ["B-org", "I-org", "O", "O"],  # boundary wrong
    ["O", "B-per", "O", "B-misc"],  # both right
]


def test_score_bio_matches_seqeval():
    res = score_bio(GOLD, PRED)
    assert res["precision"] == pytest.approx(precision_score(GOLD, PRED)) == pytest.approx(3 / 5)
    assert res["recall"] == pytest.approx(recall_score(GOLD, PRED)) == pytest.approx(3 / 5)
    assert res["f1"] == pytest.approx(f1_score(GOLD, PRED))
    report = classification_report(GOLD, PRED, output_dict=True, zero_division=0)
    for label in ("per", "loc", "org", "misc"):
        assert res["per_type"][label]["f1"] == pytest.approx(report[label]["f1-score"])
        assert res["per_type"][label]["support"] == report[label]["support"]
    assert res["per_type"]["per"]["f1"] == 1.0 and res["per_type"]["loc"]["recall"] == 0.0
    assert res["n_gold"] == 5 and res["n_pred"] == 5 and res["n_sentences"] == 3


def test_score_bio_edge_cases():
    perfect = score_bio(GOLD, GOLD)
    assert perfect["f1"] == 1.0 and perfect["precision"] == 1.0
    empty = score_bio([["O", "O"]], [["O", "O"]])
    assert empty["f1"] == 0.0 and empty["per_type"] == {}
    nothing = score_bio(GOLD, [["O"] * len(g) for g in GOLD])
    assert nothing["f1"] == 0.0 and nothing["recall"] == 0.0 and nothing["n_pred"] == 0
    with pytest.raises(NerbertError, match="sentence 0"):
        score_bio([["O"]], [["O", "O"]])
    with pytest.raises(NerbertError, match="2 gold sentences"):
        score_bio([["O"], ["O"]], [["O"]])


def test_default_and_strict_mode_differ_only_on_invalid_bio():
    # valid BIO: identical
    assert score_bio(GOLD, PRED)["f1"] == score_bio(GOLD, PRED, mode="strict")["f1"]
    # an I- after O: the default (conlleval) mode counts it as an entity, strict drops it;
    # this is why the readers repair gold BIO before scoring
    gold = [["O", "B-per", "I-per"]]
    pred = [["O", "I-per", "I-per"]]
    assert score_bio(gold, pred)["f1"] == 1.0
    assert score_bio(gold, pred, mode="strict")["f1"] == 0.0


def _docs(vocab, tag_lists):
    return [Doc(vocab, words=[f"w{i}" for i in range(len(t))], ents=t) for t in tag_lists]


def test_score_docs_agrees_with_spacy_scorer():
    vocab = spacy.blank("en").vocab
    gold, pred = _docs(vocab, GOLD), _docs(vocab, PRED)
    assert [doc_to_bio(d) for d in gold] == GOLD
    ours = score_docs(gold, pred)
    spacy_scores = Scorer.score_spans([Example(p, g) for p, g in zip(pred, gold)], "ents")
    assert ours["f1"] == pytest.approx(spacy_scores["ents_f"])
    assert ours["precision"] == pytest.approx(spacy_scores["ents_p"])
    for label, row in spacy_scores["ents_per_type"].items():
        assert ours["per_type"][label]["f1"] == pytest.approx(row["f"])
    other = Doc(vocab, words=["x"] * 5, ents=["O"] * 5)
    with pytest.raises(NerbertError, match="tokens differ"):
        score_docs(gold[:1], [other])


def test_aggregate_and_format():
    runs = [
        {"f1": 0.70, "precision": 0.7, "recall": 0.7, "seed": 1, "per_type": {"per": {"f1": 0.8}}},
        {"f1": 0.74, "precision": 0.8, "recall": 0.68, "seed": 2, "per_type": {"per": {"f1": 0.9}, "loc": {"f1": 0.5}}},
    ]
    agg = aggregate(runs)
    assert agg["n"] == 2 and agg["seeds"] == [1, 2]
    assert agg["f1"]["mean"] == pytest.approx(0.72)
    assert agg["f1"]["std"] == pytest.approx(0.0282842712)  # sample std (n-1)
    assert agg["per_type"]["per"]["f1"]["mean"] == pytest.approx(0.85)
    assert agg["per_type"]["loc"]["f1"] == {"mean": 0.5, "std": 0.0}
    assert format_cell(agg) == "72.00 ± 2.83"
    assert format_cell(aggregate(runs[:1])) == "70.00"
    assert format_cell(None) == "–"
    with pytest.raises(NerbertError):
        aggregate([])
    with pytest.raises(NerbertError, match="have no 'f1'"):
        aggregate([{"precision": 1, "recall": 1}])


def test_render_table_with_paper_rows():
    one = aggregate([{"f1": 0.5, "precision": 0.5, "recall": 0.5}, {"f1": 0.6, "precision": 0.6, "recall": 0.6}])
    cells = {
        "bert": {"crossner-politics": one, "crossner-ai": one},
        "nerbert": {"crossner-politics": one, "crossner-ai": None},
    }
    md = render_table(cells, ["crossner-politics", "crossner-ai"], paper=PAPER_TABLE2["target"])
    lines = md.strip().splitlines()
    assert lines[0] == "| Model | Pol. | AI | Avg. | runs |"
    assert lines[2] == "| bert | 55.00 ± 7.07 | 55.00 ± 7.07 | 55.00 | 2 |"
    assert lines[3] == "| nerbert | 55.00 ± 7.07 | – | – | 2 |"
    assert lines[4] == "| paper (BERT-base): bert | 66.56 | 50.37 | 58.47 | – |"
    assert lines[5] == "| paper (BERT-base): nerbert | 73.69 | 60.39 | 67.04 | – |"
    assert paper_domain("crossner-politics") == "politics" and paper_domain("finance") == "sec"


@pytest.fixture
def ruler_pipeline(tmp_path):
    """A rule-based pipeline standing in for a trained one, plus a gold DocBin."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "politician", "pattern": [{"LOWER": "merkel"}]},
        {"label": "country", "pattern": [{"LOWER": "germany"}]},
    ])
    nlp.to_disk(tmp_path / "model")
    gold = [
        Doc(nlp.vocab, words=["Merkel", "visited", "Germany", "."], ents=["B-politician", "O", "B-country", "O"]),
        Doc(nlp.vocab, words=["Angela", "Merkel", "spoke", "."], ents=["B-politician", "I-politician", "O", "O"]),
    ]
    DocBin(docs=gold).to_disk(tmp_path / "test.spacy")
    return tmp_path


def test_evaluate_pipeline_from_path_and_object(ruler_pipeline):
    res = evaluate_pipeline(ruler_pipeline / "model", ruler_pipeline / "test.spacy", batch_size=1)
    # 3 gold entities; predicted: Merkel, Germany (right) and "Merkel" alone in doc 2 (wrong boundary)
    assert res["precision"] == pytest.approx(2 / 3) and res["recall"] == pytest.approx(2 / 3)
    assert res["per_type"]["country"]["f1"] == 1.0
    assert res["n_tokens"] == 8 and res["metric"].startswith("seqeval")
    nlp = spacy.load(ruler_pipeline / "model")
    assert evaluate_pipeline(nlp, ruler_pipeline / "test.spacy")["f1"] == res["f1"]


def test_evaluate_errors(ruler_pipeline, tmp_path):
    with pytest.raises(NerbertError, match="test DocBin not found"):
        evaluate_pipeline(ruler_pipeline / "model", tmp_path / "missing.spacy")
    (tmp_path / "junk.spacy").write_bytes(b"not a docbin")
    with pytest.raises(NerbertError, match="not a readable spaCy DocBin"):
        evaluate_pipeline(ruler_pipeline / "model", tmp_path / "junk.spacy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NerbertError, match="not a saved spaCy pipeline"):
        evaluate_pipeline(tmp_path / "empty", ruler_pipeline / "test.spacy")


def test_cli_evaluate(cli_runner, ruler_pipeline):
    out = ruler_pipeline / "scores.json"
    r = cli_runner.invoke(app, ["evaluate", str(ruler_pipeline / "model"), str(ruler_pipeline / "test.spacy"),
                                "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "F1 66.67" in r.output and "| country |" in r.output
    assert srsly.read_json(out)["f1"] == pytest.approx(2 / 3)
    r = cli_runner.invoke(app, ["evaluate", str(ruler_pipeline / "model"), str(ruler_pipeline / "nope.spacy")])
    assert r.exit_code == 1 and "not found" in r.output


# ----------------------------------------------------------- gold labels the model cannot produce (issue 17.6)


def _gold(tmp_path, name, ents):
    nlp = spacy.blank("en")
    docs = [Doc(nlp.vocab, words=["Merkel", "visited", "Germany", "."], ents=e) for e in ents]
    DocBin(docs=docs).to_disk(tmp_path / name)
    return tmp_path / name


def test_evaluate_names_gold_labels_the_model_lacks(cli_runner, ruler_pipeline):
    test = _gold(ruler_pipeline, "partly.spacy", [["B-politician", "O", "B-misc", "O"]])
    res = evaluate_pipeline(ruler_pipeline / "model", test)
    assert res["model_labels"] == ["country", "politician"]
    assert res["gold_labels_not_predictable"] == ["misc"]
    r = cli_runner.invoke(app, ["evaluate", str(ruler_pipeline / "model"), str(test)])
    assert r.exit_code == 0, r.output
    assert "warning: the model cannot produce 1 of the 2 gold labels: misc" in r.output
    # every gold label known: no warning
    r = cli_runner.invoke(app, ["evaluate", str(ruler_pipeline / "model"), str(ruler_pipeline / "test.spacy")])
    assert r.exit_code == 0 and "warning" not in r.output


def test_evaluate_refuses_when_no_gold_label_overlaps(cli_runner, ruler_pipeline):
    test = _gold(ruler_pipeline, "other.spacy", [["B-PER", "O", "B-LOC", "O"]])
    with pytest.raises(NerbertError, match=r"other\.spacy: the model predicts none of the gold labels \(LOC, PER\)"):
        evaluate_pipeline(ruler_pipeline / "model", test)
    r = cli_runner.invoke(app, ["evaluate", str(ruler_pipeline / "model"), str(test)])
    assert r.exit_code == 1 and "predicts none of the gold labels" in r.output and "country, politician" in r.output


def test_a_domain_without_a_paper_figure_gets_a_second_average_over_the_papers_domains():
    """CoNLL-2003 is not in the paper's Table 2: the table still averages all six columns, and
    adds an average over the five the paper has, so both rows compare like with like."""
    def cell(f1):
        return aggregate([{"f1": f1, "precision": f1, "recall": f1}])

    cells = {"bert": {"conll2003": cell(0.80), "btc": cell(0.74), "sec": cell(0.70)}}
    md = render_table(cells, ["conll2003", "btc", "sec"], paper=PAPER_TABLE2["target"])
    lines = md.strip().splitlines()
    assert lines[0] == "| Model | CoNLL | BTwi. | Fin. | Avg. | Avg. (2 in the paper) | runs |"
    assert lines[2] == "| bert | 80.00 | 74.00 | 70.00 | 74.67 | 72.00 | 1 |"
    assert lines[3] == "| paper (BERT-base): bert | – | 75.61 | 76.23 | – | 75.92 | – |"
    # every column in the paper: no second average
    md = render_table({"bert": {"btc": cell(0.74)}}, ["btc"], paper=PAPER_TABLE2["target"])
    assert md.splitlines()[0] == "| Model | BTwi. | Avg. | runs |"

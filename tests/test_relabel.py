"""The 212- and 4-type corpora: the balanced 315-type corpus with compressed labels."""
import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin, Span

from nerbert_spacy.cli import app
from nerbert_spacy.corpus.relabel import relabel_corpus
from nerbert_spacy.dbpedia.ontology import Ontology
from nerbert_spacy.errors import NerbertError

PARENTS = {"Place": [], "PopulatedPlace": ["Place"], "Settlement": ["PopulatedPlace"], "City": ["Settlement"],
           "Agent": [], "Person": ["Agent"], "Athlete": ["Person"], "SoccerPlayer": ["Athlete"],
           "Organisation": ["Agent"], "SportsTeam": ["Organisation"], "Award": []}
SENTS = [
    (["Pele", "played", "for", "Santos", "in", "Santos", "."],
     [(0, 1, "soccerplayer"), (3, 4, "sportsteam"), (5, 6, "city")]),
    (["The", "Ballon", "d'Or", "went", "to", "Messi", "."], [(1, 3, "award"), (5, 6, "ENTITY")]),
]


@pytest.fixture
def corpus(tmp_path):
    vocab = spacy.blank("en").vocab
    for split in ("train", "dev"):
        (tmp_path / "c" / split).mkdir(parents=True)
        db = DocBin(store_user_data=True)
        for words, ents in SENTS:
            doc = Doc(vocab, words=words)
            doc.ents = [Span(doc, s, e, lab) for s, e, lab in ents]
            doc.spans["anchors"] = list(doc.ents)
            db.add(doc)
        db.to_disk(tmp_path / "c" / split / "000.spacy")
    return tmp_path / "c"


def _labels(folder):
    nlp = spacy.blank("en")
    return [[(e.start, e.end, e.label_) for e in d.ents]
            for d in DocBin().from_disk(folder / "000.spacy").get_docs(nlp.vocab)]


def test_four_types_keep_sentences_and_spans(corpus, tmp_path):
    onto = Ontology(PARENTS, source="inline")
    summary = relabel_corpus(corpus, "4", onto, tmp_path / "c4")
    got = _labels(tmp_path / "c4" / "train")
    assert got == [[(0, 1, "person"), (3, 4, "organisation"), (5, 6, "location")],
                   [(1, 3, "ENTITY"), (5, 6, "ENTITY")]]
    assert _labels(tmp_path / "c4" / "dev") == got
    assert summary["splits"] == {"train": {"shards": 1, "sentences": 2}, "dev": {"shards": 1, "sentences": 2}}
    assert summary["labels"] == {"ENTITY": 4, "location": 2, "organisation": 2, "person": 2}
    assert srsly.read_json(tmp_path / "c4" / "relabel.json") == summary
    docs = list(DocBin().from_disk(tmp_path / "c4" / "train" / "000.spacy").get_docs(spacy.blank("en").vocab))
    assert not docs[0].spans  # the 315-type weak-label spans are not carried over


def test_unknown_label_and_missing_corpus_are_one_line(corpus, tmp_path):
    onto = Ontology(PARENTS, source="inline")
    with pytest.raises(NerbertError, match="has no train/"):
        relabel_corpus(tmp_path / "c" / "dev", "4", onto, tmp_path / "x")
    db = DocBin()
    doc = Doc(spacy.blank("en").vocab, words=["x"])
    doc.ents = [Span(doc, 0, 1, "NotALabel")]
    db.add(doc)
    db.to_disk(corpus / "train" / "001.spacy")
    with pytest.raises(NerbertError, match="'NotALabel' is not one of the 315 labels"):
        relabel_corpus(corpus, "4", onto, tmp_path / "c4")
    assert not (tmp_path / "c4").exists()  # nothing half-written


def test_relabel_cli_on_the_real_ontology(corpus, tmp_path, shared_data, cli_runner):
    owl = shared_data / "dbpedia" / "dbpedia_2016-10.owl"
    r = cli_runner.invoke(app, ["labels", "relabel", str(corpus), "--to", "212", "--ontology", str(owl),
                                "-o", str(tmp_path / "c212")])
    assert r.exit_code == 0, r.output
    assert "train 2, dev 2 sentences" in r.output
    labels = {lab for sent in _labels(tmp_path / "c212" / "train") for _, _, lab in sent}
    assert "ENTITY" in labels and labels <= set(srsly.read_json(tmp_path / "c212" / "relabel.json")["labels"])

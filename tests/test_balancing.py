"""Paper §2.4 balancing: the alpha formula, the sampling plan, the split and the files."""

import json
from collections import Counter

import pytest
import srsly
from spacy.tokens import Doc
from spacy.vocab import Vocab

from nerbert_spacy.corpus.balancing import (
    MappingBoosts,
    balance_corpus,
    boosts_from_mappings,
    category_draws,
    dev_counts,
    draw_in_shard,
    numpy_rng,
    plan_samples,
    sampling_weights,
    target_boosts,
    targets_from_mappings,
)
from nerbert_spacy.corpus.build import load_docs, write_docs
from nerbert_spacy.errors import NerbertError


def test_alpha_formula_numerically():
    q = sampling_weights({"a": 1000, "b": 10, "c": 1, "zero": 0}, alpha=0.7)
    raw = {"a": 1000**0.7, "b": 10**0.7, "c": 1.0}
    total = sum(raw.values())
    assert set(q) == {"a", "b", "c"}
    assert q["a"] == pytest.approx(raw["a"] / total)
    assert q["a"] == pytest.approx(125.8925 / 131.9044, rel=1e-5)
    assert q["b"] == pytest.approx(5.011872 / 131.9044, rel=1e-5)
    assert sum(q.values()) == pytest.approx(1.0)
    # the rare category is boosted relative to its natural share
    assert q["c"] > 1 / 1011
    # alpha = 1: natural distribution; alpha = 0: uniform
    assert sampling_weights({"a": 3, "b": 1}, 1.0) == pytest.approx({"a": 0.75, "b": 0.25})
    assert sampling_weights({"a": 300, "b": 1}, 0.0) == pytest.approx({"a": 0.5, "b": 0.5})
    with pytest.raises(NerbertError):
        sampling_weights({"a": 1}, -1)


def test_category_draws_follow_q():
    q = sampling_weights({"a": 1000, "b": 100, "c": 10, "d": 1}, 0.7)
    draws = category_draws(q, 200_000, numpy_rng(0, "t"))
    assert sum(draws.values()) == 200_000
    for label in q:
        assert draws[label] / 200_000 == pytest.approx(q[label], abs=0.005)


def test_plan_samples_totals_split_and_determinism():
    sentences_with = {"s1": {"a": 90, "b": 1}, "s2": {"a": 10, "c": 5}}
    counts = {"a": 150, "b": 1, "c": 8}
    plan = plan_samples(sentences_with, counts, n_samples=10_000, alpha=0.7, seed=3)
    assert plan == plan_samples(sentences_with, counts, n_samples=10_000, alpha=0.7, seed=3)
    assert plan != plan_samples(sentences_with, counts, n_samples=10_000, alpha=0.7, seed=4)
    total = sum(n for shard in plan.values() for n in shard.values())
    assert total == 10_000
    # b only exists in s1, c only in s2
    assert "b" not in plan["s2"] and "c" not in plan["s1"]
    # a's draws spread over shards in proportion to the sentences that contain it (90:10)
    a1, a2 = plan["s1"]["a"], plan["s2"]["a"]
    assert a1 / (a1 + a2) == pytest.approx(0.9, abs=0.03)
    q = sampling_weights(counts, 0.7)
    assert plan["s1"]["b"] / 10_000 == pytest.approx(q["b"], abs=0.01)


def test_plan_samples_without_entity():
    plan = plan_samples(
        {"s": {"ENTITY": 5, "a": 5}}, {"ENTITY": 50, "a": 5}, n_samples=100, include_entity=False
    )
    assert plan == {"s": {"a": 100}}


def test_dev_counts_exact_and_bounded():
    sizes = {"a": 500, "b": 300, "c": 200}
    dev = dev_counts(sizes, 0.1, seed=1)
    assert sum(dev.values()) == 100
    assert all(0 <= dev[s] <= sizes[s] for s in sizes)
    assert dev == dev_counts(sizes, 0.1, seed=1)
    assert sum(dev_counts({"a": 3}, 0.1, 0).values()) == 1  # at least one dev sentence
    assert sum(dev_counts({"a": 3}, 0.0, 0).values()) == 0
    with pytest.raises(NerbertError):
        dev_counts(sizes, 1.0, 0)


def test_draw_in_shard_respects_quota_and_split():
    label_sets = [{"a"}, {"a", "b"}, {"c"}, {"a"}, {"b"}]
    train, dev = draw_in_shard(label_sets, {"b": 7, "c": 3}, n_dev=2, seed=0, shard="x")
    drawn = train + dev
    assert len(drawn) == 10
    assert sum(1 for i in drawn if "c" in label_sets[i]) >= 3
    assert all(("b" in label_sets[i]) or ("c" in label_sets[i]) for i in drawn)
    assert not set(train) & set(dev)
    assert (train, dev) == draw_in_shard(label_sets, {"b": 7, "c": 3}, n_dev=2, seed=0, shard="x")
    with pytest.raises(NerbertError):
        draw_in_shard(label_sets, {"zzz": 1}, n_dev=0, seed=0, shard="x")


# ---------------------------------------------------------------- end to end on small shards


def _doc(vocab, words, tags, title):
    doc = Doc(vocab, words=words, ents=tags)
    doc.user_data["title"] = title
    return doc


def _write_corpus(tmp_path, with_sidecars=True):
    vocab = Vocab()
    shards = {
        "u1": [(["Paris", "is", "nice"], ["B-city", "O", "O"])] * 40
        + [(["Bob", "met", "Ann"], ["B-person", "O", "B-person"])] * 20,
        "u2": [(["Moss", "grows", "in", "Oslo"], ["B-plant", "O", "O", "B-city"])] * 3
        + [(["Foo", "bar"], ["B-ENTITY", "B-person"])] * 10,
    }
    for name, items in shards.items():
        docs = [_doc(vocab, w, t, f"{name}-{i}") for i, (w, t) in enumerate(items)]
        write_docs(tmp_path / "shards" / f"{name}.spacy", docs)
        if with_sidecars:
            ent = Counter(e.label_ for d in docs for e in d.ents)
            sw = Counter(label for d in docs for label in {e.label_ for e in d.ents})
            srsly.write_json(
                tmp_path / "shards" / f"{name}.json",
                {"docs": len(docs), "entities": ent, "sentences_with": sw},
            )
    return tmp_path


@pytest.mark.parametrize("with_sidecars", [True, False])
def test_balance_corpus_writes_split_json_and_plot(tmp_path, with_sidecars):
    corpus = _write_corpus(tmp_path, with_sidecars)
    (corpus / "train").mkdir()
    (corpus / "train" / "stale.spacy").write_bytes(b"old")
    result = balance_corpus(corpus, alpha=0.7, seed=0, dev_fraction=0.1)
    assert not (corpus / "train" / "stale.spacy").exists()
    assert result["input_sentences"] == 73
    assert result["output_sentences"] == 73
    assert result["train_sentences"] + result["dev_sentences"] == 73
    assert result["dev_source_sentences"] == 7
    train = [d for p in sorted((corpus / "train").glob("*.spacy")) for d in load_docs(p)]
    dev = [d for p in sorted((corpus / "dev").glob("*.spacy")) for d in load_docs(p)]
    assert len(train) == result["train_sentences"] and len(dev) == result["dev_sentences"]
    # no source sentence is in both train and dev (titles identify the source sentence)
    assert not {d.user_data["title"] for d in train} & {d.user_data["title"] for d in dev}
    assert all(d.ents for d in train + dev)
    saved = json.loads((corpus / "balance.json").read_text())
    assert saved["before"] == {"person": 50, "city": 43, "ENTITY": 10, "plant": 3}
    assert sum(saved["after"].values()) == sum(len(d.ents) for d in train + dev)
    assert saved["q"]["plant"] == pytest.approx(3**0.7 / sum(n**0.7 for n in (50, 43, 10, 3)), rel=1e-6)
    png = (corpus / "balance.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_balance_boosts_the_rare_category_and_is_deterministic(tmp_path):
    corpus = _write_corpus(tmp_path)
    r1 = balance_corpus(corpus, seed=5, n_samples=1500, plot=False)
    bytes1 = {p.name: p.read_bytes() for p in sorted((corpus / "train").glob("*.spacy"))}
    r2 = balance_corpus(corpus, seed=5, n_samples=1500, plot=False)
    bytes2 = {p.name: p.read_bytes() for p in sorted((corpus / "train").glob("*.spacy"))}
    assert bytes1 == bytes2 and r1 == r2
    share_before = r1["before"]["plant"] / sum(r1["before"].values())
    share_after = r1["after"]["plant"] / sum(r1["after"].values())
    assert share_after > 1.5 * share_before
    r3 = balance_corpus(corpus, seed=6, n_samples=1500, plot=False)
    assert r3["after"] != r1["after"]


def test_balance_errors(tmp_path):
    with pytest.raises(NerbertError, match="not found"):
        balance_corpus(tmp_path / "missing")
    with pytest.raises(NerbertError, match="no shards"):
        balance_corpus(tmp_path)
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "bad.spacy").write_bytes(b"not a docbin")
    with pytest.raises(NerbertError, match="bad.spacy"):
        balance_corpus(tmp_path)


# ---------------------------------------------------------------- domain-targeted balancing


def test_boosted_weights_formula_and_bad_boosts():
    counts = {"city": 43, "person": 50, "plant": 3}
    q = sampling_weights(counts, 0.7, {"plant": 4.0})
    z = 43**0.7 + 50**0.7 + 4 * 3**0.7
    assert q["plant"] == pytest.approx(4 * 3**0.7 / z)
    assert q["city"] == pytest.approx(43**0.7 / z)
    assert sampling_weights(counts, 0.7, {}) == sampling_weights(counts, 0.7)
    with pytest.raises(NerbertError, match="boosts must be > 0"):
        sampling_weights(counts, 0.7, {"plant": 0.0})
    with pytest.raises(NerbertError, match="boosts must be > 0"):
        target_boosts(["plant"], boost=-1)


def test_targets_from_mappings_skips_generic_labels_and_entity(tmp_path):
    specific = tmp_path / "politics.json"
    generic = [f"p{i}" for i in range(11)]
    srsly.write_json(
        specific,
        {"politician": ["politician", "mayor"], "person": generic, "misc": [], "other": ["ENTITY"]},
    )
    extra = tmp_path / "music.yml"
    srsly.write_yaml(extra, {"band": ["band"], "politician": ["politician"]})
    targets, skipped = targets_from_mappings([specific, extra])
    assert targets == ["band", "mayor", "politician"]
    assert skipped == ["politics.json:person"]
    targets, skipped = targets_from_mappings([specific], max_fanout=None)
    assert set(generic) <= set(targets) and "ENTITY" not in targets and skipped == []


def test_target_boosts_reach_parents_and_children():
    parents = {"mayor": "politician", "politician": "person", "person": None, "city": "settlement"}
    boosts = target_boosts(["politician", "ENTITY"], boost=4, neighbour_boost=2, parent_map=parents)
    assert boosts == {"mayor": 2.0, "person": 2.0, "politician": 4.0}
    assert target_boosts(["politician"], boost=3) == {"politician": 3.0}
    # a target that is also a neighbour keeps the target boost
    assert target_boosts(["politician", "mayor"], parent_map=parents)["mayor"] == 4.0
    with pytest.raises(NerbertError, match="at least one target category"):
        target_boosts(["ENTITY"])


TREE_TTL = """@prefix dbo: <http://dbpedia.org/ontology/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
dbo:Person a owl:Class ; rdfs:label "person"@en ; rdfs:subClassOf owl:Thing .
dbo:Politician a owl:Class ; rdfs:label "politician"@en ; rdfs:subClassOf dbo:Person .
dbo:Mayor a owl:Class ; rdfs:label "mayor"@en ; rdfs:subClassOf dbo:Politician .
dbo:Band a owl:Class ; rdfs:label "band"@en ; rdfs:subClassOf owl:Thing .
"""


def test_boosts_from_mappings_reads_the_recorded_ontology(tmp_path):
    onto = tmp_path / "tree.ttl"
    onto.write_text(TREE_TTL, encoding="utf8")
    mapping = tmp_path / "m.json"
    srsly.write_json(mapping, {"politician": ["politician"], "person": [f"p{i}" for i in range(5)]})
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # no ontology given and none recorded: only the mapped categories
    found = boosts_from_mappings(corpus, [mapping], boost=3, neighbour_boost=1.5, max_fanout=4)
    assert found == MappingBoosts({"politician": 3.0}, ["politician"], ["m.json:person"], None)
    # the ontology stats.json records gives the label tree: parent and child get the neighbour boost
    srsly.write_json(corpus / "stats.json", {"inputs": {"ontology": str(onto)}})
    found = boosts_from_mappings(corpus, [mapping], boost=3, neighbour_boost=1.5, max_fanout=4)
    assert found.boosts == {"mayor": 1.5, "person": 1.5, "politician": 3.0} and found.ontology == onto
    # max_fanout 0 keeps generic labels; an explicit ontology wins over the recorded one
    srsly.write_json(corpus / "stats.json", {"inputs": {"ontology": str(tmp_path / "gone.ttl")}})
    found = boosts_from_mappings(corpus, [mapping], max_fanout=0, ontology=onto)
    assert found.skipped == [] and "p4" in found.targets and found.boosts["mayor"] == 2.0

def test_targeted_balance_moves_the_mix_not_the_size(tmp_path):
    corpus = _write_corpus(tmp_path)
    plain = balance_corpus(corpus, seed=3, n_samples=1500, plot=False)
    plain_train = {p.name: p.read_bytes() for p in (corpus / "train").glob("*.spacy")}
    out = tmp_path / "aimed"
    aimed = balance_corpus(corpus, seed=3, n_samples=1500, plot=False, boosts={"plant": 8.0}, output_dir=out)
    # same size, written beside the plain balance, which is left alone
    assert aimed["output_sentences"] == plain["output_sentences"] == 1500
    assert {p.name: p.read_bytes() for p in (corpus / "train").glob("*.spacy")} == plain_train
    assert json.loads((out / "balance.json").read_text())["boosts"] == {"plant": 8.0}
    train = [d for p in sorted((out / "train").glob("*.spacy")) for d in load_docs(p)]
    assert len(train) == aimed["train_sentences"]
    assert aimed["train_tokens"] == sum(len(d) for d in train)
    share = lambda r: r["after"]["plant"] / sum(r["after"].values())  # noqa: E731
    assert share(aimed) > 2 * share(plain)
    assert aimed["boosted_share"]["after"] == pytest.approx(share(aimed), abs=1e-5)
    assert aimed["boosted_share"]["before"] == pytest.approx(3 / 106, abs=1e-5)
    with pytest.raises(NerbertError, match="none of the 1 boosted categories occurs"):
        balance_corpus(corpus, boosts={"album": 4.0}, output_dir=out, plot=False)

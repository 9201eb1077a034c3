"""The corpus build end to end on small inline dumps, types and ontology: counts,
resume, determinism across worker counts, bad input, multistream units."""

import json

import pytest
from helpers import (
    ARTICLE,
    LOW,
    ROOT,
    TYPES_NT,
    article_pages,
    page_xml,
    write_build_inputs,
    write_dump,
    write_multistream,
    write_ontology_and_types,
)

from nerbert_spacy.corpus.build import (
    WorkUnit,
    build_corpus,
    find_multistream_index,
    load_docs,
    plan_units,
    run_tasks,
)
from nerbert_spacy.corpus.filtering import FilterConfig
from nerbert_spacy.errors import NerbertError


@pytest.fixture
def inputs(tmp_path):
    beta = {"prefix": "Beta", "with_specials": False, "start_id": 1000}
    return write_build_inputs(tmp_path, [{"prefix": "Alpha"}, beta])


def build(inputs, out, **kwargs):
    kwargs.setdefault("filter_config", LOW)
    return build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, **kwargs)


def shard_bytes(out):
    return {p.name: p.read_bytes() for p in sorted((out / "shards").glob("*.spacy"))}


def test_build_writes_shards_and_counts(inputs):
    out = inputs["tmp"] / "out"
    stats = build(inputs, out)
    assert sorted(shard_bytes(out)) == ["wiki-a.spacy", "wiki-b.spacy"]
    saved = json.loads((out / "stats.json").read_text())
    assert saved == {k: v for k, v in stats.items() if k not in ("timings", "notes")}
    assert stats["notes"] == []  # e.g. a stale lock taken over
    assert stats["articles"] == 12
    assert stats["redirects"] == 1 and stats["disambiguation"] == 1
    assert stats["redirects_collected"] == 1
    assert stats["bad_pages"] == 0 and stats["errors"] == [] and stats["failed_units"] == []
    # per article: 9 anchors in the body text (the reference's link is dropped with the reference)
    assert stats["anchors"] == 12 * 9
    assert stats["aligned"] + stats["unaligned"] + stats["details"]["empty_anchors"] == stats["anchors"]
    # typed: Victor Hugo x2, Paris x2 (one via the dump's redirect), France, Moss, Acme Corp
    assert stats["typed"] == 12 * 7
    assert stats["ENTITY"] == 12 * 2
    # 5 sentences per article, 3 with entities (all kept: at most 2 ENTITY labels each)
    assert stats["sentences"] == 12 * 5 and stats["sentences_kept"] == 12 * 3
    assert stats["categories_before"] == {
        "writer": 24,
        "city": 24,
        "ENTITY": 24,
        "country": 12,
        "company": 12,
        "plant": 12,
    }
    assert stats["filter"]["kept"] == stats["sentences_kept"]
    docs = [d for p in sorted((out / "shards").glob("*.spacy")) for d in load_docs(p)]
    assert len(docs) == stats["sentences_kept"] > 0
    ents = {(e.text, e.label_, e.kb_id_) for d in docs for e in d.ents}
    assert ("Paris", "city", "Paris") in ents
    assert ("Victor Hugo", "writer", "Victor Hugo") in ents
    assert ("mosses", "plant", "Moss") in ents  # link trail, lower-case first letter of the target
    assert all(d.user_data["title"].startswith(("Alpha", "Beta")) for d in docs)
    assert all(len(d.spans["anchors"]) >= len(d.ents) for d in docs)
    assert (out / "raw" / "wiki-a.json").exists() and (out / "type_index.json").exists()
    # sentence accounting: every sentence is kept or dropped by exactly one rule
    assert stats["sentences"] == stats["sentences_kept"] + sum(stats["filter"]["dropped"].values())


def test_filter_rules_counted_with_paper_defaults(inputs):
    stats = build(inputs, inputs["tmp"] / "out", filter_config=FilterConfig())
    dropped = stats["filter"]["dropped"]
    assert stats["filter"]["min_count"] == 10 and stats["filter"]["top_k"] == 20
    assert dropped["no_entity"] >= 12  # the link-less sentence of every article
    assert stats["filter"]["scarce"] == []  # every category has >= 12 entities here
    stats = build(inputs, inputs["tmp"] / "out2", filter_config=FilterConfig(min_count=13))
    assert stats["filter"]["scarce"] == ["company", "country", "plant"]
    # the "France" sentence and the "moss / Acme Corp" sentence of every article
    assert stats["filter"]["dropped"]["scarce_category"] == 24
    assert "plant" not in stats["categories_after"] and "plant" in stats["categories_before"]
    assert stats["categories_after"] == {"writer": 12, "city": 12, "ENTITY": 24}


def test_resume_skips_finished_units(inputs):
    out = inputs["tmp"] / "out"
    first = build(inputs, out)
    before = shard_bytes(out)
    raw_mtime = (out / "raw" / "wiki-a.spacy").stat().st_mtime_ns
    second = build(inputs, out)
    assert second["timings"]["resumed_units"] == 2
    assert (out / "raw" / "wiki-a.spacy").stat().st_mtime_ns == raw_mtime
    assert shard_bytes(out) == before
    # an interrupted run: one unit's files are gone -> only that unit is redone
    (out / "raw" / "wiki-b.spacy").unlink()
    (out / "shards" / "wiki-b.spacy").unlink()
    third = build(inputs, out)
    assert third["timings"]["resumed_units"] == 1
    assert shard_bytes(out) == before
    assert {k: v for k, v in third.items() if k != "timings"} == {
        k: v for k, v in first.items() if k != "timings"
    }
    # other settings (label set) invalidate the finished units
    fourth = build(inputs, out, label_set="4")
    assert fourth["timings"]["resumed_units"] == 0
    assert set(fourth["categories_before"]) <= {"person", "location", "organisation", "ENTITY"}


def test_same_output_for_one_and_two_workers(inputs):
    s1 = build(inputs, inputs["tmp"] / "w1", workers=1, seed=3)
    s2 = build(inputs, inputs["tmp"] / "w2", workers=2, seed=3)
    assert shard_bytes(inputs["tmp"] / "w1") == shard_bytes(inputs["tmp"] / "w2")
    assert (inputs["tmp"] / "w1" / "stats.json").read_bytes() == (
        inputs["tmp"] / "w2" / "stats.json"
    ).read_bytes()
    assert s1["sentences_kept"] == s2["sentences_kept"]


def test_truncated_dump_among_good_ones(inputs):
    bad = write_dump(
        inputs["tmp"] / "wiki-c.xml.bz2", prefix="Gamma", n_articles=30, with_specials=False, start_id=5000
    )
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    inputs["dumps"].append(bad)
    stats = build(inputs, inputs["tmp"] / "out")
    assert any("wiki-c.xml.bz2" in line for line in stats["errors"])
    assert stats["errors_total"] >= 1
    names = sorted(shard_bytes(inputs["tmp"] / "out"))
    assert "wiki-a.spacy" in names and "wiki-b.spacy" in names
    docs = [d for d in load_docs(inputs["tmp"] / "out" / "shards" / "wiki-a.spacy")]
    assert docs


def test_page_the_parser_cannot_handle_is_counted_and_skipped(inputs, monkeypatch):
    from nerbert_spacy.wikipedia import wikitext
    from nerbert_spacy.wikipedia.wikitext import WikitextError

    real = wikitext.wikitext_to_paragraphs

    def flaky(text, title=""):
        if title == "Alpha 2":
            raise WikitextError(
                f"page '{title}': mwparserfromhell could not parse the wikitext (boom)", title
            )
        return real(text, title)

    monkeypatch.setattr(wikitext, "wikitext_to_paragraphs", flaky)
    stats = build(inputs, inputs["tmp"] / "out", workers=1)
    assert stats["bad_pages"] == 1 and stats["errors_total"] == 1
    (line,) = stats["errors"]
    assert line.startswith(str(inputs["dumps"][0])) and "(page 'Alpha 2'): mwparserfromhell" in line
    assert stats["sentences"] == 11 * 5  # every other article kept


def test_bad_inputs_raise_clear_errors(inputs):
    with pytest.raises(NerbertError, match="missing.xml.bz2"):
        build_corpus(
            [inputs["tmp"] / "missing.xml.bz2"], inputs["ontology"], inputs["types"], inputs["tmp"] / "o"
        )
    with pytest.raises(NerbertError, match="nope"):
        build_corpus(
            inputs["dumps"], inputs["ontology"], inputs["types"], inputs["tmp"] / "o", label_set="nope"
        )
    with pytest.raises(NerbertError, match="no Wikipedia dump"):
        build_corpus([], inputs["ontology"], inputs["types"], inputs["tmp"] / "o")


def test_malformed_type_line_reported_and_skipped(inputs):
    types = inputs["types"][0]
    types.write_text(TYPES_NT + "this is not a triple\n", encoding="utf8")
    stats = build(inputs, inputs["tmp"] / "out")
    assert stats["type_index"]["malformed_lines"] == 1
    assert any("types.nt" in line for line in stats["errors"])
    assert stats["typed"] == 12 * 7


def _square(x):
    return x * x


def test_run_tasks_keeps_order_and_reports_progress():
    seen = []
    assert run_tasks(_square, [3, 1, 2], workers=1, on_done=lambda d, n: seen.append((d, n))) == [9, 1, 4]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert run_tasks(_square, list(range(6)), workers=2) == [0, 1, 4, 9, 16, 25]


def test_multistream_units(tmp_path):
    """A multistream dump (one bz2 stream per block) + its index -> one unit per block group."""
    dump, index = write_multistream(tmp_path, article_pages(6))
    assert find_multistream_index(dump) == index
    units = plan_units([dump], blocks_per_unit=2)
    assert [u.name for u in units] == [
        "enwiki-test-pages-articles-multistream.b0000000",
        "enwiki-test-pages-articles-multistream.b0000002",
    ]
    assert len(units[0].blocks) == 2 and len(units[1].blocks) == 1
    onto, types = write_ontology_and_types(tmp_path)
    stats = build_corpus([dump], onto, [types], tmp_path / "out", blocks_per_unit=2, filter_config=LOW)
    assert stats["units"] == 2 and stats["articles"] == 6
    assert sorted(p.name for p in (tmp_path / "out" / "shards").glob("*.spacy")) == [
        u.name + ".spacy" for u in units
    ]


def test_plan_units_names_are_unique(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    units = plan_units([tmp_path / "a" / "x.xml.bz2", tmp_path / "b" / "x.xml.bz2", tmp_path / "y.xml"])
    assert [u.name for u in units] == ["x", "x-2", "y"]
    assert units[0] == WorkUnit("x", str(tmp_path / "a" / "x.xml.bz2"))


@pytest.mark.slow
def test_build_and_balance_embedded_default(shared_data, tmp_path):
    """The embedded default: the real gensim fragment with the committed assets/default types."""
    from nerbert_spacy.corpus.balancing import balance_corpus

    dump = shared_data / "wikipedia" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    default = ROOT / "assets" / "default"
    stats = build_corpus(
        [dump], default / "ontology.ttl", [default / "instance_types.nt"], tmp_path / "c", workers=1
    )
    assert stats["articles"] > 90 and stats["redirects"] > 90
    assert stats["anchors"] > 15_000 and stats["errors_total"] == 0
    assert stats["typed"] > 0.1 * stats["anchors"]
    assert stats["sentences_kept"] > 500
    assert len(stats["categories_after"]) >= 20
    result = balance_corpus(tmp_path / "c", seed=0)
    assert result["train_sentences"] > 0 and result["dev_sentences"] > 0
    assert (tmp_path / "c" / "balance.png").exists()


def test_redirects_merged_from_parallel_units_equal_the_serial_pass(tmp_path):
    """Redirects collected per unit by two workers and merged in unit order = one serial pass."""
    from nerbert_spacy.corpus.build import _type_index
    from nerbert_spacy.wikipedia.dump import collect_redirects

    pages = []
    for i in range(12):
        pages.append(page_xml(f"Page {i}", ARTICLE.format(title=f"Page {i}"), page_id=2 * i + 1))
        pages.append(page_xml(f"Alias {i % 5}", redirect=f"Page {i}", page_id=2 * i + 2))  # later wins
    dump, _ = write_multistream(tmp_path, pages, per_block=3)
    plain = write_dump(tmp_path / "plain.xml.bz2", n_articles=2, start_id=500)
    types = tmp_path / "t.nt"
    types.write_text(TYPES_NT)
    units = plan_units([dump, plain], blocks_per_unit=2)
    assert len(units) == 5
    index, meta = _type_index(units, [types], None, tmp_path / "out", None, workers=2)
    serial = collect_redirects([dump, plain])
    merged = dict(index.iter_redirects())
    assert merged == serial and meta["redirects_from_dumps"] == len(serial) == 6
    assert serial["Alias 0"] == "Page 10" and serial["Paris, France"] == "Paris"
    assert index.resolve("Alias 1") == "Page 11"

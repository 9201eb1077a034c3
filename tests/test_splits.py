"""Deterministic splits, few-shot subsets and byte-identical conversion."""
import pytest

from nerbert_spacy.datasets import (
    convert_dataset,
    fewshot_filename,
    holdout,
    parse_fewshot,
    sample_fewshot,
    split_fractions,
    write_fewshot,
)
from nerbert_spacy.errors import NerbertError

ITEMS = [f"s{i}" for i in range(100)]


def test_holdout_deterministic_disjoint_ordered():
    rest, held = holdout(ITEMS, 17, seed=0)
    assert (rest, held) == holdout(ITEMS, 17, seed=0)
    assert len(held) == 17 and len(rest) == 83
    assert set(rest).isdisjoint(held) and set(rest) | set(held) == set(ITEMS)
    assert held == sorted(held, key=ITEMS.index) and rest == sorted(rest, key=ITEMS.index)
    assert holdout(ITEMS, 17, seed=1)[1] != held
    assert holdout(ITEMS, 17, seed=0, salt="other")[1] != held


def test_holdout_rejects_bad_sizes():
    with pytest.raises(NerbertError):
        holdout(ITEMS, 100, seed=0)
    with pytest.raises(NerbertError):
        holdout(ITEMS, -1, seed=0)


def test_split_fractions():
    parts = split_fractions(ITEMS, dev=0.1, test=0.2, seed=5)
    assert [len(parts[k]) for k in ("train", "dev", "test")] == [70, 10, 20]
    assert parts == split_fractions(ITEMS, dev=0.1, test=0.2, seed=5)
    assert parts != split_fractions(ITEMS, dev=0.1, test=0.2, seed=6)
    assert sorted(sum(parts.values(), []), key=ITEMS.index) == ITEMS
    with pytest.raises(NerbertError, match="too few"):
        split_fractions(ITEMS[:2], dev=0.1, test=0.1)
    with pytest.raises(NerbertError, match="invalid split fractions"):
        split_fractions(ITEMS, dev=0.6, test=0.5)


def test_parse_fewshot():
    assert parse_fewshot("50").tag == "50" and parse_fewshot(50).size(1000) == 50
    fs = parse_fewshot("10%")
    assert fs.percent and fs.tag == "10pct" and fs.size(988) == 99
    assert parse_fewshot("2.5pct").tag == "2.5pct"
    assert parse_fewshot("1%").size(20) == 1  # at least one sentence
    for bad in ("0", "-3", "abc", "150%", "0%", "2.5"):
        with pytest.raises(NerbertError):
            parse_fewshot(bad)
    assert fewshot_filename("10%", 3) == "train-fewshot-10pct-seed3.spacy"


def test_fewshot_deterministic_nested_ordered():
    a = sample_fewshot(ITEMS, "20", seed=1)
    assert a == sample_fewshot(ITEMS, "20", seed=1)
    assert len(a) == 20 and a == sorted(a, key=ITEMS.index)
    assert sample_fewshot(ITEMS, "20", seed=2) != a
    small = sample_fewshot(ITEMS, "5", seed=1)
    assert set(small) <= set(a)  # nested for one seed
    assert len(sample_fewshot(ITEMS, "10%", seed=1)) == 10
    with pytest.raises(NerbertError, match="exceeds"):
        sample_fewshot(ITEMS, "101", seed=1)


def _folder(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    text = "\n\n".join(f"Tok{i}\tB-PER\nsaid\tO\nX{i}\tI-ORG" for i in range(40)) + "\n"
    (d / "train.conll").write_text(text, encoding="utf8")
    return d


def test_convert_is_byte_identical_and_fewshot_matches(tmp_path):
    src = _folder(tmp_path)
    m1 = convert_dataset("conll", src, tmp_path / "o1", few_shot=["5", "25%"], seeds=[1, 2], split_seed=4)
    m2 = convert_dataset("conll", src, tmp_path / "o2", few_shot=["5", "25%"], seeds=[1, 2], split_seed=4)
    names = sorted(p.name for p in (tmp_path / "o1").iterdir())
    assert names == sorted([
        "train.spacy", "dev.spacy", "test.spacy", "meta.json",
        "train-fewshot-5-seed1.spacy", "train-fewshot-5-seed2.spacy",
        "train-fewshot-25pct-seed1.spacy", "train-fewshot-25pct-seed2.spacy",
    ])
    for name in names:
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes(), name
    assert m1["sizes"] == {"train": 32, "dev": 4, "test": 4} == m2["sizes"]
    assert m1["stats"]["train"]["entities"] == 64
    assert sum(r["bio_repairs"] for r in m1["read"].values()) == 40  # I-ORG after O
    assert {(f["size"], f["seed"], f["sentences"]) for f in m1["few_shot"]} == {
        ("5", 1, 5), ("5", 2, 5), ("25pct", 1, 8), ("25pct", 2, 8)}
    # the grid's on-demand sampler gives the same file as convert
    out, n = write_fewshot(tmp_path / "o1" / "train.spacy", "5", 2, tmp_path / "again.spacy")
    assert n == 5
    assert out.read_bytes() == (tmp_path / "o1" / "train-fewshot-5-seed2.spacy").read_bytes()
    # another split seed moves sentences
    m3 = convert_dataset("conll", src, tmp_path / "o3", split_seed=5)
    assert (tmp_path / "o3" / "dev.spacy").read_bytes() != (tmp_path / "o1" / "dev.spacy").read_bytes()
    assert m3["split_seed"] == 5

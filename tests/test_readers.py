"""Readers for every target-domain format, on small inline samples."""
from pathlib import Path

import pytest
import srsly

from nerbert_spacy.datasets import (
    docs_to_sentences,
    load_dataset,
    normalise_label,
    read_conll,
    read_file,
    read_iob,
    read_jsonl,
    sentences_to_docs,
)
from nerbert_spacy.errors import NerbertError

CROSSNER = """Parties\tO
United\tB-politicalparty
Russia\tI-politicalparty
won\tO
.\tO

Putin\tB-politician
spoke\tO
"""

SEC = """-DOCSTART- -X- O O

This DT - O
SILICON NNP - I-ORG
VALLEY NNP - I-ORG
BANK NNP - I-ORG
California NNP - I-LOC
Bank NNP - I-ORG
John NNP - I-PER
Smith NNP - I-PER

-DOCSTART- -X- O O

Boston NNP - I-LOC
, , - O
USA NNP - I-LOC
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf8") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode(encoding))
    return p


def test_read_conll_crossner(tmp_path):
    sents, stats = read_conll(write(tmp_path, "train.txt", CROSSNER))
    assert [s.tokens for s in sents] == [["Parties", "United", "Russia", "won", "."], ["Putin", "spoke"]]
    assert sents[0].tags == ["O", "B-politicalparty", "I-politicalparty", "O", "O"]
    assert sents[1].line == 7 and sents[0].line == 1 and sents[0].source == "train.txt"
    assert stats.sentences == 2 and stats.tokens == 7 and stats.entities == 2
    assert stats.labels == {"politicalparty": 1, "politician": 1}
    assert stats.bio_repairs == 0


def test_bio_repair_counts(tmp_path):
    text = "a\tI-PER\nb\tI-PER\nc\tO\nd\tI-LOC\ne\tB-ORG\nf\tI-LOC\n"
    sents, stats = read_conll(write(tmp_path, "x.conll", text))
    assert sents[0].tags == ["B-per", "I-per", "O", "B-loc", "B-org", "B-loc"]
    assert stats.bio_repairs == 3


def test_sec_docstart_and_io_to_bio(tmp_path):
    sents, stats = read_conll(write(tmp_path, "FIN5.txt", SEC), scheme="io")
    assert stats.docstarts == 2
    assert len(sents) == 2
    assert sents[0].tokens[:2] == ["This", "SILICON"]
    assert sents[0].tags == ["O", "B-org", "I-org", "I-org", "B-loc", "B-org", "B-per", "I-per"]
    assert sents[1].tags == ["B-loc", "O", "B-loc"]
    # every entity start that was written as I- is counted
    assert stats.io_to_bio == 6
    assert stats.bio_repairs == 0


def test_io_bare_labels(tmp_path):
    sents, stats = read_conll(write(tmp_path, "x.txt", "a PER\nb PER\nc O\nd LOC\n"), scheme="io")
    assert sents[0].tags == ["B-per", "I-per", "O", "B-loc"]
    assert stats.io_to_bio == 2


def test_whitespace_columns_and_crlf_bom(tmp_path):
    text = "\ufeffEU NNP B-ORG\r\nrules NNS O\r\n\r\nParis NNP B-LOC\r\n"
    sents, _ = read_conll(write(tmp_path, "x.conll", text))
    assert sents[0].tokens == ["EU", "rules"] and sents[0].tags == ["B-org", "O"]
    assert sents[1].tags == ["B-loc"]


def test_empty_tokens_dropped_and_counted(tmp_path):
    # BTC has lines like "\tO" and " \tO" and tokens with trailing spaces
    text = "hi \tO\n\tO\n \tO\nLondon\tB-LOC\n\n\tO\n\nok\tO\n"
    sents, stats = read_conll(write(tmp_path, "f.conll", text))
    assert [s.tokens for s in sents] == [["hi", "London"], ["ok"]]
    assert stats.empty_tokens_dropped == 3
    assert stats.empty_sentences_dropped == 1


def test_bioes_in_iob_format(tmp_path):
    text = "I|PRP|O like|VBP|O New|NNP|B-GPE York|NNP|E-GPE and|CC|O Rome|NNP|S-GPE\n-DOCSTART-|O\nok|O\n"
    sents, stats = read_iob(write(tmp_path, "x.iob", text))
    assert sents[0].tokens == ["I", "like", "New", "York", "and", "Rome"]
    assert sents[0].tags == ["O", "O", "B-gpe", "I-gpe", "O", "B-gpe"]
    assert stats.bioes_to_bio == 2 and stats.docstarts == 1 and len(sents) == 2


def test_read_jsonl(tmp_path):
    lines = [
        {"text": "Angela Merkel visited Paris.", "spans": [{"start": 0, "end": 13, "label": "PERSON"},
                                                           {"start": 22, "end": 27, "label": "GPE"}]},
        # misaligned span (inside a token) is expanded and counted
        {"text": "Macron won", "spans": [{"start": 1, "end": 6, "label": "person"}]},
        {"text": "New York", "tokens": [{"text": "New", "ws": True}, {"text": "York", "ws": False}],
         "spans": [{"start": 0, "end": 8, "label": "loc"}]},
    ]
    p = tmp_path / "d.jsonl"
    srsly.write_jsonl(p, lines)
    sents, stats = read_jsonl(p)
    assert sents[0].tokens == ["Angela", "Merkel", "visited", "Paris", "."]
    assert sents[0].tags == ["B-person", "I-person", "O", "B-gpe", "O"]
    assert sents[0].spaces == [True, True, True, False, False]
    assert sents[1].tags == ["B-person", "O"]
    assert stats.spans_expanded == 1
    assert sents[2].tags == ["B-loc", "I-loc"]
    docs = sentences_to_docs(sents)
    assert docs[0].text == "Angela Merkel visited Paris."
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Angela Merkel", "person"), ("Paris", "gpe")]


def test_jsonl_overlap_is_error(tmp_path):
    p = tmp_path / "d.jsonl"
    srsly.write_jsonl(p, [{"text": "ok"}, {"text": "New York City", "spans": [
        {"start": 0, "end": 8, "label": "a"}, {"start": 4, "end": 13, "label": "b"}]}])
    with pytest.raises(NerbertError, match=r"d\.jsonl \(line 2\).*overlapping"):
        read_jsonl(p)


@pytest.mark.parametrize(
    "text,match",
    [
        ("a\tO\nb\tX-PER\n", r"x\.conll \(line 2\): invalid tag 'X-PER'"),
        ("a\tO\nb\tB-\n", r"\(line 2\).*invalid tag"),
        ("a\tO\n\nb\n", r"\(line 3\): expected at least 2 columns"),
        ("a\tO\nb\tE-PER\n", r"\(line 2\).*E-/S- prefix"),
        ("\tB-PER\n", r"\(line 1\): empty token with entity tag"),
    ],
)
def test_bad_tags_name_file_and_line(tmp_path, text, match):
    with pytest.raises(NerbertError, match=match):
        read_conll(write(tmp_path, "x.conll", text))


def test_non_utf8_names_line(tmp_path):
    p = write(tmp_path, "bad.conll", "ok\tO\n\nCaf\u00e9\tB-LOC\n", encoding="latin-1")
    with pytest.raises(NerbertError, match=r"bad\.conll \(line 3\): is not valid UTF-8"):
        read_conll(p)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(NerbertError, match="not found"):
        read_conll(tmp_path / "nope.conll")
    with pytest.raises(NerbertError, match="is empty"):
        read_conll(write(tmp_path, "e.conll", "\n \n"))
    with pytest.raises(NerbertError, match="no annotated sentences"):
        read_conll(write(tmp_path, "d.conll", "-DOCSTART- -X- O O\n\n"))
    with pytest.raises(NerbertError, match=r"\(line 1\).*no '\|tag'"):
        read_iob(write(tmp_path, "x.iob", "just words\n"))


def test_read_file_dispatch(tmp_path):
    assert read_file(write(tmp_path, "a.iob", "x|B-A y|I-A\n"))[0][0].tags == ["B-a", "I-a"]
    assert read_file(write(tmp_path, "a.conll", "x\tB-A\n"))[0][0].tags == ["B-a"]
    with pytest.raises(NerbertError, match="unknown format"):
        read_file(tmp_path / "a.conll", "xml")


def test_normalise_label():
    assert normalise_label("ORG") == "org"
    assert normalise_label(" Gene_or_gene_product ") == "gene_or_gene_product"
    assert normalise_label("political  party") == "political_party"
    assert normalise_label("organisation") == "organisation"


def test_docs_round_trip(tmp_path):
    sents, _ = read_conll(write(tmp_path, "train.txt", CROSSNER))
    docs = sentences_to_docs(sents)
    assert docs[0].user_data["source"] == "train.txt:1"
    back = docs_to_sentences(docs)
    assert [(s.tokens, s.tags, s.source, s.line) for s in back] == [(s.tokens, s.tags, s.source, s.line) for s in sents]


# ----------------------------------------------------------- dataset loaders on inline folders


def _conll(n: int, label: str = "PER", start: int = 0) -> str:
    return "\n\n".join(f"w{start + i}\tB-{label}\nx{start + i}\tO" for i in range(n)) + "\n"


def test_crossner_loader_finds_domain_subfolder(tmp_path):
    for split in ("train", "dev", "test"):
        write(tmp_path / "politics", f"{split}.txt", CROSSNER)
    for src in (tmp_path, tmp_path / "politics"):
        loaded = load_dataset("crossner-politics", src)
        assert {k: len(v) for k, v in loaded.splits.items()} == {"train": 2, "dev": 2, "test": 2}
    with pytest.raises(NerbertError, match="has no test.txt"):
        (tmp_path / "politics" / "test.txt").unlink()
        load_dataset("crossner-politics", tmp_path)


def test_btc_loader_sections(tmp_path):
    sizes = {"a": 3, "b": 3, "e": 2, "f": 4, "g": 3, "h": 6}
    for s, n in sizes.items():
        write(tmp_path, f"{s}.conll", _conll(n, "ORG", start=100 * ord(s)))
    loaded = load_dataset("btc", tmp_path)
    # H has fewer than 1000 sentences here: all but one go to train, the last to dev
    assert len(loaded.splits["test"]) == 4
    assert len(loaded.splits["dev"]) == 1
    assert len(loaded.splits["train"]) == 3 + 3 + 2 + 3 + 5
    assert {s.source for s in loaded.splits["test"]} == {"f.conll"}
    assert loaded.splits["dev"][0].tokens[0] == f"w{100 * ord('h') + 5}"
    assert loaded.splits["train"][0].tags == ["B-org", "O"]


def test_sec_loader(tmp_path):
    fin5 = "-DOCSTART- -X- O O\n\n" + "\n\n".join(f"Acme{i} NNP - I-ORG\nCorp NNP - I-ORG\nsold VBD - O" for i in range(20))
    write(tmp_path, "FIN5.txt", fin5 + "\n")
    write(tmp_path, "FIN3.txt", SEC)
    loaded = load_dataset("sec", tmp_path, split_seed=0)
    assert len(loaded.splits["train"]) + len(loaded.splits["dev"]) == 20
    assert len(loaded.splits["dev"]) == 4  # min(176, n // 5)
    assert loaded.splits["train"][0].tags == ["B-org", "I-org", "O"]
    assert loaded.file_stats["FIN5.txt"].io_to_bio == 20
    assert len(loaded.splits["test"]) == 2
    again = load_dataset("sec", tmp_path, split_seed=0)
    assert [s.tokens for s in again.splits["dev"]] == [s.tokens for s in loaded.splits["dev"]]
    other = load_dataset("sec", tmp_path, split_seed=1)
    assert [s.tokens for s in other.splits["dev"]] != [s.tokens for s in loaded.splits["dev"]]


def test_re3d_and_bionlp_loaders(tmp_path):
    write(tmp_path / "re3d", "re3d-train.conll", _conll(10, "Organisation"))
    write(tmp_path / "re3d", "re3d-test.conll", _conll(3, "MilitaryPlatform"))
    loaded = load_dataset("re3d", tmp_path / "re3d")
    assert [len(loaded.splits[s]) for s in ("train", "dev", "test")] == [8, 2, 3]
    assert loaded.splits["test"][0].tags[0] == "B-militaryplatform"
    for name in ("train", "devel", "test"):
        write(tmp_path / "bionlp13cg", f"{name}.tsv", _conll(2, "Gene_or_gene_product"))
    loaded = load_dataset("bionlp13cg", tmp_path)
    assert loaded.splits["dev"][0].tags[0] == "B-gene_or_gene_product"


def test_generic_single_file_is_split(tmp_path):
    p = write(tmp_path, "all.conll", _conll(30))
    loaded = load_dataset("conll", p, split_seed=3)
    sizes = {k: len(v) for k, v in loaded.splits.items()}
    assert sizes == {"train": 24, "dev": 3, "test": 3}
    toks = [s.tokens[0] for k in ("train", "dev", "test") for s in loaded.splits[k]]
    assert sorted(toks) == sorted(f"w{i}" for i in range(30))


def test_generic_folder_names(tmp_path):
    write(tmp_path, "train.iob", "a|B-X b|O\nc|O\n")
    write(tmp_path, "valid.iob", "d|B-X\n")
    write(tmp_path, "test.iob", "e|O\n")
    loaded = load_dataset("iob", tmp_path)
    assert [len(loaded.splits[s]) for s in ("train", "dev", "test")] == [2, 1, 1]
    with pytest.raises(NerbertError, match="has no train/training/dev/.*/test file with extension .jsonl"):
        load_dataset("jsonl", tmp_path)


# ----------------------------------------------------------- the real data (skipped when absent)


@pytest.mark.parametrize(
    "name,sub,sizes",
    [
        ("crossner-politics", "crossner", (200, 541, 651)),
        ("sec", "sec_filings", (988, 176, 303)),
        ("re3d", "re3d", (612, 153, 200)),
    ],
)
def test_real_datasets_sizes(shared_data, name, sub, sizes):
    loaded = load_dataset(name, shared_data / sub)
    assert tuple(len(loaded.splits[s]) for s in ("train", "dev", "test")) == sizes
    for split in loaded.splits.values():
        for s in split[:50]:
            assert not any(t.startswith("I-") and (i == 0 or s.tags[i - 1][2:] != t[2:])
                           for i, t in enumerate(s.tags))


# ----------------------------------------------------------- CoNLL-U (issue 18.1)

# UD + NER in the MISC field: comments, a multi-word token (3-4), an empty node
# (5.1), SpaceAfter=No, and -DOCSTART- written as a token line with ID 0.
CONLLU = """# newdoc id = d1
0\t-DOCSTART-\t_\t_\t_\t_\t_\t_\t_\tNER=O

# sent_id = 1
# text = Merkel wohnt im Kanzleramt in Berlin.
1\tMerkel\tMerkel\tPROPN\tNE\t_\t2\tnsubj\t_\tNER=B-PER
2\twohnt\twohnen\tVERB\tVVFIN\t_\t0\troot\t_\tNER=O
3-4\tim\t_\t_\t_\t_\t_\t_\t_\t_
3\tin\tin\tADP\tAPPR\t_\t5\tcase\t_\tNER=O
4\tdem\tder\tDET\tART\t_\t5\tdet\t_\tNER=O
5\tKanzleramt\tKanzleramt\tPROPN\tNN\t_\t2\tobl\t_\tNER=B-ORG
5.1\twohnt\twohnen\tVERB\tVVFIN\t_\t_\t_\t2:conj\t_
6\tin\tin\tADP\tAPPR\t_\t7\tcase\t_\tNER=O
7\tBerlin\tBerlin\tPROPN\tNE\t_\t2\tobl\t_\tSpaceAfter=No|NER=B-LOC
8\t.\t.\tPUNCT\t$.\t_\t2\tpunct\t_\tNER=O

# sent_id = 2
1\tAngela\tAngela\tPROPN\tNE\t_\t3\tnsubj\t_\tNER=B-PER
2\tMerkel\tMerkel\tPROPN\tNE\t_\t1\tflat\t_\tNER=I-PER
3\tspricht\tsprechen\tVERB\tVVFIN\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t$.\t_\t3\tpunct\t_\tNER=O
"""


def test_read_conllu_misc_ner(tmp_path):
    from nerbert_spacy.datasets import read_conllu

    sents, stats = read_conllu(write(tmp_path, "de.conllu", CONLLU))
    assert [s.tokens for s in sents] == [
        ["Merkel", "wohnt", "in", "dem", "Kanzleramt", "in", "Berlin", "."],
        ["Angela", "Merkel", "spricht", "."],
    ]
    assert sents[0].tags == ["B-per", "O", "O", "O", "B-org", "O", "B-loc", "O"]
    assert sents[1].tags == ["B-per", "I-per", "O", "O"]
    assert sents[0].line == 6 and sents[0].source == "de.conllu"
    assert stats.docstarts == 1 and stats.sentences == 2
    assert stats.multiword_tokens == 1 and stats.empty_nodes == 1
    assert stats.missing_tags == 1  # "spricht" has no NER= in MISC: O, counted
    # SpaceAfter=No is kept, so the doc text reads like the sentence
    assert sentences_to_docs(sents)[0].text == "Merkel wohnt in dem Kanzleramt in Berlin."


def test_read_conllu_entity_key_and_extra_column(tmp_path):
    from nerbert_spacy.datasets import read_conllu

    misc = "1\tBarack\t_\t_\t_\t_\t_\t_\t_\tEntity=B-PER\n2\tObama\t_\t_\t_\t_\t_\t_\t_\tEntity=I-PER\n"
    assert read_conllu(write(tmp_path, "e.conllu", misc))[0][0].tags == ["B-per", "I-per"]
    extra = "# text = Paris\n1\tParis\tParis\tPROPN\t_\t_\t0\troot\t_\t_\tB-LOC\n"
    assert read_conllu(write(tmp_path, "x.conllu", extra))[0][0].tags == ["B-loc"]
    with pytest.raises(NerbertError, match=r"n\.conllu: has no NER tags.*--tag-column"):
        read_conllu(write(tmp_path, "n.conllu", "1\tParis\t_\t_\t_\t_\t_\t_\t_\t_\n"))
    with pytest.raises(NerbertError, match=r"b\.conllu \(line 1\): invalid tag 'Q-LOC'"):
        read_conllu(write(tmp_path, "b.conllu", "1\tParis\t_\t_\t_\t_\t_\t_\t_\tNER=Q-LOC\n"))


def test_conllu_is_not_read_as_columns_of_indices(tmp_path):
    # by extension, also through the generic conll format
    for fmt in ("auto", "conll"):
        sents, _ = read_file(write(tmp_path, "de.conllu", CONLLU), fmt)
        assert sents[0].tokens[0] == "Merkel" and len(sents) == 2
    # CoNLL-U content under another name: the index column is refused, not read as words
    with pytest.raises(NerbertError, match=r"de\.txt: column 0 holds token indices.*conllu.*--token-column"):
        read_conll(write(tmp_path, "de.txt", CONLLU))


def test_token_and_tag_columns_chosen_by_the_user(tmp_path):
    text = "1 Angela NNP B-PER x\n2 Merkel NNP I-PER x\n3 spoke VBD O x\n\n1 -DOCSTART- X O x\n\n1 Bonn NNP B-LOC x\n"
    sents, stats = read_conll(write(tmp_path, "cols.txt", text), token_col=1, tag_col=3)
    assert [s.tokens for s in sents] == [["Angela", "Merkel", "spoke"], ["Bonn"]]
    assert sents[0].tags == ["B-per", "I-per", "O"] and stats.docstarts == 1
    sents, _ = read_file(tmp_path / "cols.txt", "conll", token_col=1, tag_col=3)
    assert sents[1].tags == ["B-loc"]
    # the library call for a whole dataset takes the same options
    loaded = load_dataset("conll", None, test=tmp_path / "cols.txt", token_col=1, tag_col=3)
    assert loaded.splits["test"][0].tokens == ["Angela", "Merkel", "spoke"]
    with pytest.raises(NerbertError, match=r"cols\.txt: column 0 holds token indices"):
        read_conll(tmp_path / "cols.txt", tag_col=3)
    with pytest.raises(NerbertError, match=r"token_col/tag_col are for the conll and conllu formats"):
        read_file(write(tmp_path, "a.iob", "x|O\n"), "iob", token_col=1)

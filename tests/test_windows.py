"""No token goes without encoder input: windows are split by word pieces where
they would be truncated (tiny BERT: 128 positions, a character vocabulary)."""
import warnings

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.util import load_config

from nerbert_spacy.pipeline.windows import encoder_limit, fit_windows, pieces_per_token, split_to_fit

URLS = " ".join(f"https://example{i}.org/path/to/page_{i}?query=value&x={i}#frag" for i in range(40))
CJK = " ".join("東京 都 は 日本 の 首都 で あり 、 人口 は 約 千四百万 人 で ある 。".split() * 12)
CONFIGS = spacy.util.ensure_path(__file__).parent.parent / "configs"
MIXED = ("Visit " + URLS + " or read " + CJK + " before 2024 .")


def _pipeline(tiny_bert, architecture):
    config = load_config(CONFIGS / "finetune.cfg", overrides={"paths.encoder": str(tiny_bert)}, interpolate=True)
    model = dict(config["components"]["transformer"]["model"])
    model["@architectures"] = architecture
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": model})
    nlp.initialize()
    return nlp


def _tokens_without_pieces(doc: Doc) -> int:
    lengths = doc._.trf_data.align.lengths
    return int(sum(1 for tok, n in zip(doc, lengths) if n == 0 and not tok.is_space))


@pytest.mark.parametrize("text", [URLS, CJK, MIXED], ids=["urls", "cjk", "mixed"])
def test_every_token_gets_word_pieces(tiny_bert, text):
    nlp = _pipeline(tiny_bert, "nerbert.TransformerModel.v1")
    doc = nlp(text)
    assert len(doc) > 20
    assert _tokens_without_pieces(doc) == 0
    stats = nlp.get_pipe("transformer").model.attrs["nerbert_windows"]
    assert stats["windows_split"] >= 1


def test_plain_v3_truncates_the_same_text(tiny_bert):
    """What the wrapper fixes: spacy-transformers alone leaves tokens without pieces."""
    nlp = _pipeline(tiny_bert, "spacy-transformers.TransformerModel.v3")
    doc = nlp(MIXED)
    assert _tokens_without_pieces(doc) > 0


def test_split_to_fit_covers_the_window_in_order(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_bert))
    nlp = spacy.blank("en")
    doc = nlp(URLS)
    counts = pieces_per_token(tok, doc[:])
    assert len(counts) == len(doc)
    assert sum(counts) == len(tok(doc.text, add_special_tokens=False)["input_ids"])
    parts = split_to_fit(doc[:], counts, 100)
    assert parts[0].start == 0 and parts[-1].end == len(doc)
    assert all(a.end == b.start for a, b in zip(parts, parts[1:]))
    for part in parts:
        assert sum(counts[part.start : part.end]) <= 100 or len(part) == 1


def test_a_token_longer_than_the_limit_is_counted_and_warned(tiny_bert):
    nlp = _pipeline(tiny_bert, "nerbert.TransformerModel.v1")
    long_token = "https://example.org/" + "/".join(["ab"] * 80)  # one spaCy token, 258 pieces > 128
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = nlp(f"see {long_token} here")
    assert _tokens_without_pieces(doc) == 0
    assert nlp.get_pipe("transformer").model.attrs["nerbert_windows"]["tokens_over_limit"] == 1
    assert any("more word pieces than the encoder takes" in str(w.message) for w in caught)


def test_short_text_is_not_retokenised_and_limit_is_the_smaller_one(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_bert))
    assert encoder_limit(tok, AutoModel.from_pretrained(str(tiny_bert))) == 128
    tok.model_max_length = int(1e30)  # tokenizers with no limit set
    assert encoder_limit(tok, None) == 512
    doc = spacy.blank("en")("A short sentence .")
    stats = {}
    assert fit_windows([[doc[:]]], tok, 128, stats) == [[doc[:]]]
    assert stats == {"windows": 1}


def test_tagger_output_is_finite_for_every_token(tiny_bert, tiny_train_overrides):
    from spacy.training.initialize import init_nlp

    config = load_config(CONFIGS / "finetune.cfg", overrides=tiny_train_overrides, interpolate=False)
    nlp = init_nlp(config)
    doc = nlp(MIXED)
    assert _tokens_without_pieces(doc) == 0
    tensors = nlp.get_pipe("bio_tagger").model.get_ref("tok2vec").predict([doc])[0]
    assert numpy.all(numpy.abs(tensors).sum(axis=1) > 0)  # no zero vector for any token

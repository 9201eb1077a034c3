"""Hugging Face token-classification checkpoints: export (loaded with no project code),
probabilities equal to the pipeline's, import, round trip, label schemes."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
import torch
from helpers import SENTENCES
from spacy.tokens import Span
from spacy.training.initialize import init_nlp
from spacy.util import load_config

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.hf import bio_labels_from_tags, compare_with_hf, export_hf, first_subword_index, import_hf
from nerbert_spacy.pipeline.bio_tagger import tag_scores

FINETUNE = Path(__file__).resolve().parent.parent / "configs" / "finetune.cfg"

# Runs in a fresh interpreter: transformers only; fails if any project (or spaCy) module got imported.
HF_SCRIPT = r"""
import json, sys
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline
path, texts = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForTokenClassification.from_pretrained(path).eval()
tok = AutoTokenizer.from_pretrained(path)
out = {"id2label": {str(k): v for k, v in model.config.id2label.items()}, "texts": []}
with torch.no_grad():
    for text in texts:
        enc = tok(text, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        probs = torch.softmax(model(**enc).logits[0], -1).tolist()
        out["texts"].append({"offsets": offsets, "probs": probs})
ner = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="first")
out["pipeline"] = [[{"entity_group": e["entity_group"], "start": int(e["start"]), "end": int(e["end"])} for e in r]
                   for r in ner(texts)]
out["leaked"] = sorted(m for m in sys.modules if m.split(".")[0] in ("nerbert_spacy", "spacy", "thinc"))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exported(pipeline_dir):
    out = pipeline_dir.parent / "hf-export"
    info = export_hf(pipeline_dir, out)
    return out, info


def _spacy_probs(pipeline, texts):
    nlp = spacy.load(pipeline)
    docs = [nlp.make_doc(t) for t in texts]
    _, probs = tag_scores(nlp, docs)
    return docs, probs


def test_export_loads_without_project_code_and_probabilities_match(pipeline_dir, exported):
    out, info = exported
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    proc = subprocess.run(
        [sys.executable, "-c", HF_SCRIPT, str(out), json.dumps(SENTENCES)],
        capture_output=True,
        text=True,
        cwd=str(out),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    hf = json.loads(proc.stdout.strip().splitlines()[-1])
    assert hf["leaked"] == []
    tags = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert info["tags"] == tags
    assert [hf["id2label"][str(i)] for i in range(len(tags))] == tags
    docs, probs = _spacy_probs(pipeline_dir, SENTENCES)
    compared = 0
    for doc, p, h in zip(docs, probs, hf["texts"]):
        rows = first_subword_index(doc, h["offsets"])
        assert None not in rows
        hp = numpy.array(h["probs"])[rows]
        assert hp.shape == p.shape
        assert numpy.abs(hp - p).max() < 1e-4
        compared += len(doc)
    assert compared == sum(len(d) for d in docs)
    # the model is trained, not uniform: rows in the wrong order would not match
    assert max(float(p.max() - p.min()) for p in probs) > 0.3
    assert len(hf["pipeline"]) == len(SENTENCES)
    for result in hf["pipeline"]:
        assert all(e["entity_group"] in ("LOC", "PER") for e in result)


def test_export_folds_temperature_into_classifier(pipeline_dir, tmp_path):
    hot = tmp_path / "hot"
    spacy.load(pipeline_dir, config={"components": {"bio_tagger": {"temperature": 2.5}}}).to_disk(hot)
    info = export_hf(hot, tmp_path / "hf")
    assert info["temperature"] == 2.5
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in SENTENCES]
    hot_check = compare_with_hf(hot, tmp_path / "hf", docs)
    assert hot_check["max_abs_diff"] < 1e-4 and hot_check["tokens"] > 20
    assert compare_with_hf(pipeline_dir, tmp_path / "hf", docs)["max_abs_diff"] > 1e-2


def test_import_round_trip_gives_identical_predictions(pipeline_dir, exported, tmp_path):
    hf_copy = tmp_path / "hf"
    shutil.copytree(exported[0], hf_copy)
    info = import_hf(hf_copy, tmp_path / "imported")
    assert info["labels"] == ["LOC", "PER"]
    shutil.rmtree(hf_copy)  # the saved pipeline must not need the checkpoint any more
    original = spacy.load(pipeline_dir)
    imported = spacy.load(tmp_path / "imported")
    assert imported.pipe_names == ["transformer", "bio_tagger"]
    assert imported.get_pipe("bio_tagger").labels == ("LOC", "PER")
    _, p_orig = _spacy_probs(pipeline_dir, SENTENCES)
    _, p_imp = _spacy_probs(tmp_path / "imported", SENTENCES)
    for a, b in zip(p_orig, p_imp):
        assert numpy.abs(a - b).max() < 1e-6
    for text in SENTENCES:
        d1, d2 = original(text), imported(text)
        assert [(e.start, e.end, e.label_) for e in d1.ents] == [(e.start, e.end, e.label_) for e in d2.ents]
        assert d1.spans["bio_tagger"].attrs["scores"] == pytest.approx(d2.spans["bio_tagger"].attrs["scores"], abs=1e-6)


def test_imported_pipeline_feeds_finetune_config(exported, tmp_path):
    imported = tmp_path / "imported"
    import_hf(exported[0], imported)
    domain = tmp_path / "train.spacy"
    nlp = spacy.blank("en")
    from spacy.tokens import DocBin

    docs = []
    for _ in range(4):
        doc = nlp.make_doc("Angela Merkel visited France .")
        doc.ents = [Span(doc, 0, 2, "politician"), Span(doc, 3, 4, "country")]
        docs.append(doc)
    DocBin(docs=docs).to_disk(domain)
    overrides = {
        "paths.train": str(domain),
        "paths.dev": str(domain),
        "paths.encoder": str(exported[0]),
        "paths.pretrained": str(imported),
        "training.eval_frequency": 1,
    }
    tuned = init_nlp(load_config(FINETUNE, overrides=overrides, interpolate=False))
    src = spacy.load(imported).get_pipe("transformer").model.transformer.state_dict()
    dst = tuned.get_pipe("transformer").model.transformer.state_dict()
    assert src.keys() == dst.keys() and all(torch.equal(src[k], dst[k]) for k in src)
    assert tuned.get_pipe("bio_tagger").labels == ("country", "politician")


def _checkpoint(folder, tiny_bert, id2label):
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    config = BertConfig.from_pretrained(tiny_bert, id2label=dict(enumerate(id2label)),
                                        label2id={t: i for i, t in enumerate(id2label)})
    torch.manual_seed(1)
    BertForTokenClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    return folder


def test_import_takes_rows_in_checkpoint_order(tiny_bert, tmp_path):
    tags = ["B-PER", "O", "I-LOC", "I-PER", "B-LOC", "B-MISC", "I-MISC"]
    labels, rows = bio_labels_from_tags(tags, "x")
    assert labels == ["PER", "LOC", "MISC"]
    assert [tags[r] for r in rows] == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    hf = _checkpoint(tmp_path / "hf", tiny_bert, tags)
    import_hf(hf, tmp_path / "pipe")
    nlp = spacy.blank("en")
    check = compare_with_hf(tmp_path / "pipe", hf, [nlp.make_doc(t) for t in SENTENCES])
    assert check["max_abs_diff"] < 1e-4 and check["tokens"] > 20


@pytest.mark.parametrize(
    "tags,message",
    [
        (["O", "I-PER", "I-LOC"], "lacks the tags B-PER"),
        (["O", "B-PER", "I-PER", "E-PER", "S-PER"], "'E-PER', 'S-PER' are not BIO tags"),
        (["LABEL_0", "LABEL_1"], "are not BIO tags"),
        (["B-PER", "I-PER"], "no 'O' tag"),
        (["O", "PER", "LOC"], "'PER', 'LOC' are not BIO tags"),
    ],
)
def test_label_schemes_that_are_not_bio_are_refused(tags, message):
    with pytest.raises(NerbertError, match=message):
        bio_labels_from_tags(tags, "config.json")


def test_cli_export_import_and_refusal(cli_runner, pipeline_dir, tiny_bert, tmp_path):
    from spacy.tokens import DocBin

    from nerbert_spacy.cli import app

    dev = tmp_path / "dev.spacy"
    nlp = spacy.blank("en")
    DocBin(docs=[nlp.make_doc(t) for t in SENTENCES]).to_disk(dev)
    result = cli_runner.invoke(app, ["model", "export-hf", str(pipeline_dir), str(tmp_path / "hf"), "--check", str(dev)])
    assert result.exit_code == 0, result.output
    assert "BertForTokenClassification" in result.output and "check: " in result.output
    assert float(result.output.split("max |p_hf - p_spacy| = ")[1].split(",")[0]) < 1e-4
    result = cli_runner.invoke(app, ["model", "import-hf", str(tmp_path / "hf"), str(tmp_path / "pipe")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pipe" / "config.cfg").is_file()
    iob1 = _checkpoint(tmp_path / "iob1", tiny_bert, ["O", "I-PER"])
    result = cli_runner.invoke(app, ["model", "import-hf", str(iob1), str(tmp_path / "bad")])
    assert result.exit_code == 1
    assert "error:" in result.output and "B-PER" in result.output and "config.json" in result.output
    assert not (tmp_path / "bad").exists()


def test_compare_leaves_out_docs_longer_than_the_window(pipeline_dir, exported):
    nlp = spacy.blank("en")
    long_doc = nlp.make_doc(" ".join(["the"] * 130))
    check = compare_with_hf(pipeline_dir, exported[0], [nlp.make_doc(SENTENCES[0]), long_doc])
    assert check["docs"] == 1 and check["docs_longer_than_window"] == 1
    assert check["tokens"] == len(nlp.make_doc(SENTENCES[0]))

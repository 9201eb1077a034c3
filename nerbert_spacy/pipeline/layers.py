"""Custom thinc layers of the NER-BERT model.

``nerbert.reduce_first.v1`` pools each token's word pieces to the FIRST one
(paper §4.4), like thinc's ``reduce_first.v1``, but gives a zero vector to a
token that has no word piece (a whitespace token, a character the tokenizer
drops, a token cut off by truncation) instead of raising.
"""
from typing import Callable, Tuple, cast

from thinc.api import Model, registry
from thinc.types import Floats2d, Ragged


@registry.layers("nerbert.reduce_first.v1")
def reduce_first_safe() -> Model[Ragged, Floats2d]:
    """First-sub-word pooling that tolerates tokens with no sub-words.

    RETURNS (Model[Ragged, Floats2d]): One row per sequence of the Ragged input.
    """
    return Model("nerbert_reduce_first", _reduce_first_forward)


def _reduce_first_forward(
    model: Model[Ragged, Floats2d], Xr: Ragged, is_train: bool
) -> Tuple[Floats2d, Callable[[Floats2d], Ragged]]:
    xp = model.ops.xp
    X = cast(Floats2d, Xr.dataXd)
    lengths = Xr.lengths
    n_rows, width = X.shape[0], X.shape[1] if X.ndim == 2 else 0
    Y = model.ops.alloc2f(len(lengths), width)
    lengths_xp = model.ops.asarray1i(lengths)
    starts = xp.cumsum(lengths_xp) - lengths_xp
    present = xp.nonzero(lengths_xp > 0)[0]
    if present.size:
        Y[present] = X[starts[present]]

    def backprop(dY: Floats2d) -> Ragged:
        dX = model.ops.alloc2f(n_rows, width)
        if present.size:
            dX[starts[present]] = dY[present]
        return Ragged(dX, lengths)

    return Y, backprop

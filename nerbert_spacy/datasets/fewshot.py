"""Few-shot training subsets (paper §5.2): a count or a percentage of the
training sentences, sampled by seed.

For one seed the subsets are nested: the sentences of a smaller subset are
also in every larger one (all are prefixes of one seeded permutation), so a
learning curve adds data rather than swapping it. Subsets keep the original
sentence order.
"""
import re
from dataclasses import dataclass
from typing import List, Sequence, TypeVar, Union

from ..errors import NerbertError
from ..util import make_rng

T = TypeVar("T")

_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|pct)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class FewShotSpec:
    """A few-shot size: ``value`` sentences, or ``value`` percent when ``percent``."""

    value: float
    percent: bool = False

    @property
    def tag(self) -> str:
        """File-name tag: ``50`` for 50 sentences, ``10pct`` for 10 percent."""
        v = int(self.value) if float(self.value).is_integer() else self.value
        return f"{v}pct" if self.percent else f"{v}"

    def size(self, n: int) -> int:
        """Number of sentences this spec takes out of ``n`` (at least 1, at most n)."""
        if self.percent:
            k = int(round(n * self.value / 100.0))
        else:
            k = int(self.value)
        return max(1, min(n, k))

    def __str__(self) -> str:
        return self.tag


def parse_fewshot(spec: Union[str, int, "FewShotSpec"]) -> FewShotSpec:
    """Parse ``"50"`` (sentences) or ``"10%"`` / ``"10pct"`` (percent of train).

    spec (str | int | FewShotSpec): The size.
    RETURNS (FewShotSpec): The parsed spec.
    """
    if isinstance(spec, FewShotSpec):
        return spec
    m = _SPEC.match(str(spec))
    if not m:
        raise NerbertError(f"invalid few-shot size {spec!r}: use a count (50) or a percentage (10%)")
    value = float(m.group(1))
    percent = m.group(2) is not None
    if percent and not 0 < value <= 100:
        raise NerbertError(f"few-shot percentage must be in (0, 100], got {spec!r}")
    if not percent and (value < 1 or not value.is_integer()):
        raise NerbertError(f"few-shot count must be a whole number >= 1, got {spec!r}")
    return FewShotSpec(value, percent)


def sample_fewshot(items: Sequence[T], spec: Union[str, int, FewShotSpec], seed: int) -> List[T]:
    """Sample a few-shot subset of ``items`` deterministically.

    items (Sequence[T]): The training sentences.
    spec (str | int | FewShotSpec): Count or percentage.
    seed (int): The sampling seed.
    RETURNS (List[T]): The subset, in original order.
    """
    fs = parse_fewshot(spec)
    n = len(items)
    if n == 0:
        raise NerbertError("cannot sample a few-shot subset from an empty training set")
    if not fs.percent and fs.value > n:
        raise NerbertError(f"few-shot size {fs.tag} exceeds the {n} training sentences")
    order = list(range(n))
    make_rng(seed, "fewshot", n).shuffle(order)
    chosen = set(order[: fs.size(n)])
    return [x for i, x in enumerate(items) if i in chosen]


def fewshot_filename(spec: Union[str, int, FewShotSpec], seed: int) -> str:
    """``train-fewshot-<N>-seed<S>.spacy`` (N = count, or e.g. ``10pct``)."""
    return f"train-fewshot-{parse_fewshot(spec).tag}-seed{seed}.spacy"

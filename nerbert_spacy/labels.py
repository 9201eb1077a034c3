"""The paper's 315 entity categories and their 212-type and 4-type compressions.

A label is the paper's spelling of a DBpedia Ontology class: lower case, no
spaces (``populatedplace``), see :meth:`Ontology.key`; ``ENTITY`` is the
category of a linked entity with no listed type (paper §2.2).

Three of the 315 labels are not classes of any DBpedia Ontology release
(``location``, ``footballteam``, ``footballplayer``) and four are missing
from the 2016 one (``monoclonalantibody``, ``archbishop``, ``outbreak``,
``combinationdrug``). A class with such a name still matches its own label;
for the hierarchy (nearest listed ancestor, compressions) it is placed under
a stand-in parent (:data:`STAND_IN_PARENTS`, the parent the class has in the
current ontology or the obvious one), and ``dbo:Place``, which the list
lacks, counts as ``location`` (:data:`LABEL_ALIASES`). See ``docs/labels.md``.
"""

import weakref
from functools import lru_cache
from importlib import resources
from typing import Dict, List, Optional, Sequence, Tuple

from .dbpedia.ontology import Ontology
from .errors import NerbertError

__all__ = [
    "ENTITY",
    "LABEL_SETS",
    "FOUR_TYPES",
    "STAND_IN_PARENTS",
    "LABEL_ALIASES",
    "paper_labels",
    "LabelSet",
    "get_label_set",
    "compression_map",
    "label_parent_map",
]

ENTITY = "ENTITY"
LABEL_SETS = ("315", "212", "4")
N_212 = 212
# label key -> the class that stands in as its parent when the class is not in the loaded ontology
STAND_IN_PARENTS: Dict[str, str] = {
    "location": "Place",  # dbo:Location is used by DBpedia's instance data (with dbo:Place), not in the OWL
    "footballteam": "SportsTeam",
    "footballplayer": "Athlete",
    "monoclonalantibody": "Drug",  # parents in the current ontology
    "archbishop": "ChristianBishop",
    "outbreak": "Event",
    "combinationdrug": "Drug",
}
# key of a class that is not a label -> the label it counts as
LABEL_ALIASES: Dict[str, str] = {"place": "location"}
# the 4-type compression: first of these keys met in a label's lineage (nearest first) wins
FOUR_TYPES: Tuple[str, ...] = ("person", "location", "organisation", ENTITY)
_FOUR_TYPE_KEYS = {"person": "person", "place": "location", "location": "location", "organisation": "organisation"}


@lru_cache(maxsize=1)
def _paper_labels() -> Tuple[str, ...]:
    text = resources.files("nerbert_spacy").joinpath("data/labels-315.txt").read_text(encoding="utf8")
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(labels) != 315 or len(set(labels)) != 315 or ENTITY not in labels:
        raise NerbertError(
            "the package's label list is damaged (expected 315 distinct labels with ENTITY)",
            "nerbert_spacy/data/labels-315.txt",
        )
    return labels


def paper_labels() -> List[str]:
    """The paper's 315 categories (Appendix B), ``ENTITY`` included, in the file's order.

    RETURNS (List[str]): The labels (package data ``nerbert_spacy/data/labels-315.txt``).
    """
    return list(_paper_labels())


class _Hierarchy:
    """Lineage and depth of class names, with the stand-in parents for classes the ontology lacks."""

    def __init__(self, ontology: Ontology) -> None:
        self.onto = ontology
        self._lineage: Dict[str, List[str]] = {}
        self._depth: Dict[str, int] = {}

    def lineage(self, cls: str) -> List[str]:
        """``[cls] + ancestors`` nearest first."""
        if cls in self._lineage:
            return self._lineage[cls]
        if cls in self.onto.classes:
            out = [cls] + self.onto.ancestors(cls)
        else:
            parent = STAND_IN_PARENTS.get(Ontology.key(cls))
            out = [cls]
            if parent is not None and Ontology.key(parent) != Ontology.key(cls):
                pcls = self.onto.by_key(parent) or parent
                out += [c for c in self.lineage(pcls) if c != cls]
        self._lineage[cls] = out
        return out

    def depth(self, cls: str) -> int:
        if cls not in self._depth:
            if cls in self.onto.classes:
                d = self.onto.depth(cls)
            else:
                parent = STAND_IN_PARENTS.get(Ontology.key(cls))
                d = 0
                if parent is not None:
                    pcls = self.onto.by_key(parent) or parent
                    d = (self.depth(pcls) + 1) if pcls in self.onto.classes else 0
            self._depth[cls] = d
        return self._depth[cls]

    def label_class(self, label: str) -> str:
        """The class a label names (its ontology class, else a CamelCase-free stand-in: the label itself)."""
        return self.onto.by_key(label) or label


def _label_key(cls: str, keys: "set[str]") -> Optional[str]:
    k = Ontology.key(cls)
    if k in keys:
        return k
    alias = LABEL_ALIASES.get(k)
    if alias is not None and alias in keys:
        return alias
    return None


def label_parent_map(ontology: Ontology) -> Dict[str, Optional[str]]:
    """The tree the 315 labels form under the ontology.

    ontology (Ontology): The DBpedia Ontology.
    RETURNS (Dict[str, Optional[str]]): Each label (ENTITY excluded) -> its nearest
        proper ancestor that is also a label, or None for a root.
    """
    h = _Hierarchy(ontology)
    labels = [lab for lab in _paper_labels() if lab != ENTITY]
    keys = set(labels)
    out: Dict[str, Optional[str]] = {}
    for lab in labels:
        parent = None
        for anc in h.lineage(h.label_class(lab))[1:]:
            k = _label_key(anc, keys)
            if k is not None and k != lab:
                parent = k
                break
        out[lab] = parent
    return out


def _compress_212(ontology: Ontology) -> Dict[str, str]:
    """Fold the deepest labels of the label tree into their parents until 212 remain (docs/labels.md)."""
    parents = label_parent_map(ontology)
    depth: Dict[str, int] = {}

    def tree_depth(lab: str) -> int:
        if lab not in depth:
            d, p, seen = 0, parents[lab], {lab}
            while p is not None and p not in seen:
                seen.add(p)
                d += 1
                p = parents[p]
            depth[lab] = d
        return depth[lab]

    h = _Hierarchy(ontology)
    n_fold = len(_paper_labels()) - N_212
    foldable = sorted(
        (lab for lab, p in parents.items() if p is not None),
        key=lambda lab: (-tree_depth(lab), -h.depth(h.label_class(lab)), lab),
    )
    if len(foldable) < n_fold:
        raise NerbertError(
            f"the ontology gives only {len(foldable)} labels with a listed parent; the 212-type compression "
            f"needs {n_fold}",
            ontology.source,
        )
    folded = set(foldable[:n_fold])
    mapping: Dict[str, str] = {ENTITY: ENTITY}
    for lab in parents:
        cur = lab
        while cur in folded:
            cur = parents[cur]  # type: ignore[assignment]
        mapping[lab] = cur
    return mapping


def _compress_4(ontology: Ontology) -> Dict[str, str]:
    h = _Hierarchy(ontology)
    mapping: Dict[str, str] = {ENTITY: ENTITY}
    for lab in _paper_labels():
        if lab == ENTITY:
            continue
        target = ENTITY
        for anc in h.lineage(h.label_class(lab)):
            k = _FOUR_TYPE_KEYS.get(Ontology.key(anc))
            if k is not None:
                target = k
                break
        mapping[lab] = target
    return mapping


_MAP_CACHE: "weakref.WeakKeyDictionary[Ontology, Dict[str, Dict[str, str]]]" = weakref.WeakKeyDictionary()


def compression_map(name: str, ontology: Ontology) -> Dict[str, str]:
    """Map each of the 315 labels to its label in the set ``name``.

    name (str): ``"315"`` (identity), ``"212"`` or ``"4"``.
    ontology (Ontology): The DBpedia Ontology the hierarchy comes from.
    RETURNS (Dict[str, str]): All 315 labels -> a label of the set.
    """
    name = str(name)
    if name not in LABEL_SETS:
        raise NerbertError(f"unknown label set '{name}' (choose one of: {', '.join(LABEL_SETS)})")
    cache = _MAP_CACHE.setdefault(ontology, {})
    if name not in cache:
        if name == "315":
            mapping = {lab: lab for lab in _paper_labels()}
        elif name == "212":
            mapping = _compress_212(ontology)
        else:
            mapping = _compress_4(ontology)
        cache[name] = mapping
    return dict(cache[name])


class LabelSet:
    """A set of entity labels and the rule that picks one for a typed anchor.

    name (str): ``"315"``, ``"212"`` or ``"4"``.
    labels (List[str]): The set's labels, ENTITY included (file order for 315/212).
    """

    def __init__(self, name: str, ontology: Ontology) -> None:
        self.name = str(name)
        self.ontology = ontology
        self.mapping: Dict[str, str] = compression_map(self.name, ontology)
        if self.name == "4":
            self.labels: List[str] = list(FOUR_TYPES)
        else:
            targets = set(self.mapping.values())
            self.labels = [lab for lab in _paper_labels() if lab in targets]
        self._keys = set(_paper_labels()) - {ENTITY}
        self._h = _Hierarchy(ontology)
        self._cache: Dict[Tuple[str, ...], str] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: str) -> bool:
        return label in self.labels

    def __repr__(self) -> str:
        return f"LabelSet({self.name!r}, {len(self.labels)} labels)"

    def label_315(self, classes: Sequence[str]) -> str:
        """The paper's label for an entity with these classes (before any compression).

        Each class contributes itself if it is one of the 315 labels, else its
        nearest ancestor that is; the deepest contribution in the ontology
        wins (ties: alphabetical); no contribution -> ENTITY (paper §2.2).

        classes (Sequence[str]): dbo class local names (e.g. from ``TypeIndex.classes``).
        RETURNS (str): One of the 315 labels.
        """
        key = tuple(sorted(set(classes)))
        if key in self._cache:
            return self._cache[key]
        best: Optional[Tuple[int, str]] = None
        for cls in key:
            for anc in self._h.lineage(cls):
                lab = _label_key(anc, self._keys)
                if lab is not None:
                    cand = (-self._h.depth(anc), lab)
                    if best is None or cand < best:
                        best = cand
                    break
        result = ENTITY if best is None else best[1]
        if len(self._cache) < 100_000:
            self._cache[key] = result
        return result

    def label_for(self, classes: Sequence[str]) -> str:
        """The label of this set for an entity with these dbo classes.

        classes (Sequence[str]): dbo class local names; [] for an untyped entity.
        RETURNS (str): A label of this set (ENTITY when nothing matches).
        """
        return self.mapping[self.label_315(classes)]

    def compress(self, label_315: str) -> str:
        """label_315 (str): One of the 315 labels. RETURNS (str): Its label in this set."""
        if label_315 not in self.mapping:
            raise NerbertError(f"'{label_315}' is not one of the paper's 315 labels")
        return self.mapping[label_315]


def get_label_set(name: str, ontology: Ontology) -> LabelSet:
    """name (str): ``"315"``, ``"212"`` or ``"4"``. ontology (Ontology): The DBpedia Ontology.
    RETURNS (LabelSet): The label set; an unknown name raises NerbertError listing the valid ones.
    """
    name = str(name)
    if name not in LABEL_SETS:
        raise NerbertError(f"unknown label set '{name}' (choose one of: {', '.join(LABEL_SETS)})")
    return LabelSet(name, ontology)

"""Map a target schema's labels onto the label set of a pretrained NER-BERT
pipeline (the paper's 315 DBpedia types, or the 212 / 4 compressions).

The mapping reuses what the pretrained head already knows: a target label
``politician`` is the pretrained type ``politician`` (exact match after
normalisation), a target label ``corporation`` is the pretrained type
``company`` (a synonym: the :data:`SYNONYMS` table, or a class whose
``rdfs:label`` is the target's name, e.g. dbo:Film "movie"), a target label
``person`` also collects ``scientist``, ``writer``, ... (ontology descendants
no more specific target label claims), a target label that is an ontology
class with no pretrained counterpart falls back to its nearest pretrained
ancestor, and a hand-edited override file has the last word. Each pretrained
label maps to at most one target label. ``ENTITY`` (the paper's category for
anchors with no DBpedia type) is dropped unless asked for: it says "a name",
not which kind, so it must not turn into a target's catch-all label.

The result is a :class:`LabelMapping`: saved as readable JSON the user can
correct, turned into ``{target: [pretrained, ...]}`` for head transfer and
into ``{pretrained: target}`` for zero-shot collapsing
(:mod:`nerbert_spacy.pipeline.label_mapper`).
"""
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import srsly

from .errors import NerbertError, require_file
from .labels import ENTITY
from .util import write_json_atomic, write_text_atomic

_KEY_RE = re.compile(r"[^0-9a-z]+")
EXACT = "exact"
SYNONYM = "synonym"
DESCENDANT = "descendant"
ANCESTOR = "ancestor"
OVERRIDE = "override"
RULES = (EXACT, SYNONYM, DESCENDANT, ANCESTOR, OVERRIDE)
MAPPING_FORMAT_VERSION = 1

# Spelling variants and abbreviations of one and the same label, by normalised
# key (see `label_key`). Only synonyms go here; judgement calls (is a
# "researcher" a "scientist"?) belong in an override file.
NAME_ALIASES: Dict[str, str] = {
    "organization": "organisation",
    "org": "organisation",
    "miscellaneous": "misc",
    "msc": "misc",
    "per": "person",
    "pers": "person",
    "loc": "location",
    "programlang": "programminglanguage",
    "programminglang": "programminglanguage",
    "geneorgeneproduct": "gene",
    "geneandgeneproduct": "gene",
    "astronomicalobject": "celestialbody",
    "politicalorganisation": "politicalparty",
    "musician": "musicalartist",
    "musicalgroup": "band",
    "researchinstitute": "educationalinstitution",
}

# Target-schema names of concepts that the DBpedia Ontology names differently, by
# normalised key: the classes (keys) a target label stands for. The target collects
# the pretrained labels of those classes (rule "synonym") and their descendants
# (nearest class wins); an exact match never goes through this table. Keep it to
# real synonyms and the ontology's own equivalences (dbo:Work = schema:CreativeWork,
# dbo:Automobile/Aircraft/Ship/... = schema:Product); judgement calls belong in an
# override file. Names that are some class's English rdfs:label ("movie" =
# dbo:Film) need no entry.
SYNONYMS: Dict[str, Tuple[str, ...]] = {
    "location": ("place",),  # dbo:Location is no class of the ontology, only of instance data
    "musicalinstrument": ("instrument",),
    "discipline": ("academicsubject",),
    "conference": ("academicconference",),
    "corporation": ("company",),  # WNUT-17
    "creativework": ("work",),  # WNUT-17, schema.org
    "workofart": ("work",),  # OntoNotes WORK_OF_ART
    "product": ("device", "software", "meanoftransportation"),  # WNUT-17, OntoNotes
    "vehicle": ("meanoftransportation",),
    "facility": ("architecturalstructure",),  # OntoNotes FAC
    "fac": ("architecturalstructure",),
    "gpe": ("populatedplace",),  # OntoNotes GPE
    "tvshow": ("televisionshow",),
}


def label_key(name: str) -> str:
    """Normalise a label name for matching like ``Ontology.key``: lower-case,
    letters and digits only (the paper's spelling: "Political party" ->
    "politicalparty", "Gene_or_gene_product" -> "geneorgeneproduct").

    name (str): A label or class name.
    RETURNS (str): The key.
    """
    name = str(name)
    if name.startswith("dbo:"):
        name = name[4:]
    return _KEY_RE.sub("", name.lower())


def canonical_key(name: str) -> str:
    """`label_key` with spelling aliases resolved ("organization" -> "organisation").

    name (str): A label name.
    RETURNS (str): The canonical key.
    """
    key = label_key(name)
    return NAME_ALIASES.get(key, key)


@dataclass
class LabelMapping:
    """Which pretrained labels each target label collects, and why.

    targets (List[str]): The target labels, in schema order.
    pretrained (List[str]): The pretrained labels, in their order.
    pairs (Dict[str, Dict[str, str]]): target -> {pretrained label: rule}.
    classes (Dict[str, Optional[str]]): target -> the ontology class it was matched through
        (the first one when a synonym names several).
    dropped (List[str]): Pretrained labels deliberately dropped in zero-shot use, whatever
        the ``unmapped`` policy (ENTITY, the paper's catch-all for untyped anchors, by default).
    notes (List[str]): Remarks worth a look (ties, override labels that do not exist, ...).
    """

    targets: List[str]
    pretrained: List[str]
    pairs: Dict[str, Dict[str, str]] = field(default_factory=dict)
    classes: Dict[str, Optional[str]] = field(default_factory=dict)
    dropped: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for t in self.targets:
            self.pairs.setdefault(t, {})

    # --- views -------------------------------------------------------------
    @property
    def unmapped_target(self) -> List[str]:
        """Target labels that collect no pretrained label."""
        return [t for t in self.targets if not self.pairs.get(t)]

    @property
    def unmapped_pretrained(self) -> List[str]:
        """Pretrained labels that no target label collects (and that are not dropped)."""
        used = self.to_collapse_map()
        return [p for p in self.pretrained if p not in used and p not in self.dropped]

    def target_of(self, pretrained: str) -> Optional[str]:
        """The target label a pretrained label maps to, or None."""
        for t, ps in self.pairs.items():
            if pretrained in ps:
                return t
        return None

    def to_head_mapping(self) -> Dict[str, List[str]]:
        """``{target: [pretrained, ...]}`` (every target, [] where nothing maps),
        the input of head transfer.

        RETURNS (Dict[str, List[str]]): The mapping.
        """
        return {t: list(self.pairs.get(t, {})) for t in self.targets}

    def to_collapse_map(self) -> Dict[str, str]:
        """``{pretrained: target}`` for the mapped pretrained labels (zero-shot).

        RETURNS (Dict[str, str]): The mapping.
        """
        out: Dict[str, str] = {}
        for t in self.targets:
            for p in self.pairs.get(t, {}):
                out[p] = t
        return out

    def rows(self) -> List[Tuple[str, str, str]]:
        """(target, pretrained, rule) rows in schema order, for display."""
        return [(t, p, r) for t in self.targets for p, r in self.pairs.get(t, {}).items()]

    def counts(self) -> Dict[str, int]:
        """How many pairs each rule produced, plus the unmapped counts."""
        out = {r: 0 for r in RULES}
        for _, _, r in self.rows():
            out[r] = out.get(r, 0) + 1
        out["dropped"] = len(self.dropped)
        out["unmapped_target"] = len(self.unmapped_target)
        out["unmapped_pretrained"] = len(self.unmapped_pretrained)
        return out

    # --- serialisation -----------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """The readable JSON form (see module docs); round-trips through `from_dict`."""
        target: Dict[str, Any] = {}
        for t in self.targets:
            ps = self.pairs.get(t, {})
            target[t] = {
                "class": self.classes.get(t),
                "pretrained": list(ps),
                "rule": dict(ps),
            }
        return {
            "version": MAPPING_FORMAT_VERSION,
            "target": target,
            "unmapped_target": self.unmapped_target,
            "unmapped_pretrained": self.unmapped_pretrained,
            "drop": list(self.dropped),
            "pretrained_labels": list(self.pretrained),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: Optional[Union[str, Path]] = None) -> "LabelMapping":
        """Read the JSON form back. Also accepts the plain head-mapping form
        ``{target: [pretrained, ...]}``. A pretrained label added by hand to a
        target's ``pretrained`` list without a rule gets the rule "override".

        data (Mapping): The parsed JSON.
        where (str | Path): The file it came from, for error messages.
        RETURNS (LabelMapping): The mapping.
        """
        if not isinstance(data, Mapping):
            raise NerbertError("a label mapping must be a JSON object", where)
        if "target" not in data:
            return cls.from_head_mapping(data, where=where)
        raw_targets = data["target"]
        if not isinstance(raw_targets, Mapping):
            raise NerbertError("'target' must be an object of target label -> entry", where)
        pairs: Dict[str, Dict[str, str]] = {}
        classes: Dict[str, Optional[str]] = {}
        seen: Dict[str, str] = {}
        for t, entry in raw_targets.items():
            if isinstance(entry, (list, tuple)):
                entry = {"pretrained": list(entry)}
            if not isinstance(entry, Mapping):
                raise NerbertError(f"entry of target label '{t}' must be an object or a list", where)
            plist = entry.get("pretrained", [])
            rules = entry.get("rule", {}) or {}
            if isinstance(rules, str):
                rules = {p: rules for p in plist}
            if not isinstance(plist, (list, tuple)) or not all(isinstance(p, str) for p in plist):
                raise NerbertError(f"'pretrained' of target label '{t}' must be a list of label names", where)
            pairs[t] = {}
            for p in plist:
                _claim(seen, p, t, where)
                rule = rules.get(p, OVERRIDE)
                if rule not in RULES:
                    raise NerbertError(f"unknown rule '{rule}' for '{t}' <- '{p}' (valid: {', '.join(RULES)})", where)
                pairs[t][p] = rule
            classes[t] = entry.get("class")
        pretrained = list(data.get("pretrained_labels") or [])
        extra = list(data.get("unmapped_pretrained") or [])
        dropped = data.get("drop") or []
        if not isinstance(dropped, list) or not all(isinstance(p, str) for p in dropped):
            raise NerbertError("'drop' must be a list of pretrained label names", where)
        for p in dropped:
            if p in seen:
                raise NerbertError(f"pretrained label '{p}' is both mapped to '{seen[p]}' and in 'drop'", where)
        for p in [*seen, *extra, *dropped]:
            if p not in pretrained:
                pretrained.append(p)
        return cls(
            targets=list(raw_targets),
            pretrained=pretrained,
            pairs=pairs,
            classes=classes,
            dropped=list(dropped),
            notes=list(data.get("notes") or []),
        )

    @classmethod
    def from_head_mapping(
        cls, data: Mapping[str, Any], where: Optional[Union[str, Path]] = None, rule: str = OVERRIDE
    ) -> "LabelMapping":
        """Build from ``{target: [pretrained, ...]}``.

        data (Mapping[str, List[str]]): The head mapping.
        where (str | Path): Source, for error messages.
        rule (str): The rule to record for every pair.
        RETURNS (LabelMapping): The mapping.
        """
        pairs: Dict[str, Dict[str, str]] = {}
        seen: Dict[str, str] = {}
        for t, plist in data.items():
            if isinstance(plist, str):
                plist = [plist]
            if not isinstance(plist, (list, tuple)) or not all(isinstance(p, str) for p in plist):
                raise NerbertError(f"value of target label '{t}' must be a list of pretrained label names", where)
            pairs[str(t)] = {}
            for p in plist:
                _claim(seen, p, str(t), where)
                pairs[str(t)][p] = rule
        return cls(targets=list(pairs), pretrained=list(seen), pairs=pairs)

    def save(self, path: Union[str, Path]) -> None:
        """Write the readable JSON form atomically.

        path (str | Path): Output file (.json).
        """
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Union[str, Path]) -> "LabelMapping":
        """Read a mapping written by `save` (or hand-written, JSON or YAML).

        path (str | Path): The file.
        RETURNS (LabelMapping): The mapping.
        """
        return cls.from_dict(_read_structured(path, "label mapping"), where=path)


def _claim(seen: Dict[str, str], pretrained: str, target: str, where: Any) -> None:
    """Record that ``pretrained`` maps to ``target``; a second target for it is an error."""
    if pretrained in seen and seen[pretrained] != target:
        raise NerbertError(
            f"pretrained label '{pretrained}' is mapped to both '{seen[pretrained]}' and '{target}'; "
            "each pretrained label may map to one target label only",
            where,
        )
    seen[pretrained] = target


def load_head_mapping(source: Union[str, Path, Mapping[str, Any], LabelMapping]) -> Dict[str, List[str]]:
    """``{target: [pretrained, ...]}`` from a mapping file (the full format of
    `LabelMapping.save` or the plain head-mapping form), a dict or a LabelMapping.

    source (str | Path | dict | LabelMapping): Where the mapping is.
    RETURNS (Dict[str, List[str]]): The head mapping.
    """
    return as_label_mapping(source).to_head_mapping()


def as_label_mapping(source: Union[str, Path, Mapping[str, Any], LabelMapping]) -> LabelMapping:
    """Coerce a path, dict or LabelMapping into a LabelMapping."""
    if isinstance(source, LabelMapping):
        return source
    if isinstance(source, Mapping):
        return LabelMapping.from_dict(source)
    return LabelMapping.load(source)


def _read_structured(path: Union[str, Path], what: str) -> Any:
    p = require_file(path, what)
    try:
        if p.suffix.lower() in (".yml", ".yaml"):
            return srsly.read_yaml(p)
        return srsly.read_json(p)
    except ValueError as err:
        raise NerbertError(f"{what} is not valid {'YAML' if p.suffix.lower() in ('.yml', '.yaml') else 'JSON'}: {err}", p)
    except Exception as err:  # ruamel's parser errors are not ValueErrors
        raise NerbertError(f"cannot parse {what}: {err}".splitlines()[0], p)


# --- building ----------------------------------------------------------------


class _Classes:
    """Finds the ontology classes a label names: by its key (and spelling aliases),
    by a class's English rdfs:label, and through :data:`SYNONYMS`."""

    def __init__(self, ontology: Any) -> None:
        self.ontology = ontology
        self.by_label: Dict[str, str] = {}
        if ontology is not None:
            for c in sorted(ontology.classes):
                self.by_label.setdefault(label_key(ontology.label(c)), c)

    def _one(self, key: str) -> Optional[str]:
        return self.ontology.by_key(key) or self.by_label.get(key)

    def named(self, name: str) -> Optional[str]:
        """The class the label itself names (key, spelling alias or rdfs:label), if any."""
        if self.ontology is None:
            return None
        key = label_key(name)
        return self._one(key) or self._one(canonical_key(name))

    def of(self, name: str) -> List[str]:
        """Every class the label stands for: the one it names, then its synonyms' classes."""
        if self.ontology is None:
            return []
        out = [c for c in [self.named(name)] if c]
        for syn in synonym_keys(name):
            c = self._one(syn)
            if c and c not in out:
                out.append(c)
        return out


def synonym_keys(name: str) -> Tuple[str, ...]:
    """The keys :data:`SYNONYMS` gives a label (by its key or canonical key), else ()."""
    return SYNONYMS.get(label_key(name)) or SYNONYMS.get(canonical_key(name)) or ()


def build_mapping(
    target_labels: Sequence[str],
    pretrained_labels: Sequence[str],
    ontology: Any = None,
    overrides: Optional[Union[str, Path, Mapping[str, Any]]] = None,
    *,
    strict: bool = True,
    keep_entity: bool = False,
) -> LabelMapping:
    """Map target labels onto pretrained labels through the DBpedia hierarchy.

    Rules, in order (each pretrained label ends up with at most one target):
    1. exact: the normalised names are equal (aliases: organization/organisation, ...).
    2. synonym: the pretrained label is a class the target stands for under another
       name (:data:`SYNONYMS`: ``corporation`` <- ``company``; with the ontology also a
       class whose English rdfs:label is the target's name: ``movie`` <- ``film``).
    3. descendant: a pretrained label whose class lies below a target's class(es)
       goes to the *most specific* such target (``president`` -> ``politician``
       rather than ``person`` when both are targets).
    4. ancestor: a target that got nothing yet but names an ontology class
       takes its nearest pretrained ancestor, if no other target holds it.
    5. override: the override file (JSON/YAML) reassigns or removes pairs.
    ``ENTITY`` is put on the drop list unless ``keep_entity`` (an override may still
    map it to a target; ``keep_entity`` also takes it off an override's drop list).

    target_labels (Sequence[str]): The target schema's labels.
    pretrained_labels (Sequence[str]): The pretrained pipeline's labels.
    ontology (Ontology): The DBpedia Ontology (None: exact and synonym matches only).
    overrides (str | Path | dict): Optional override file or its parsed content.
    strict (bool): Raise on override entries naming labels that do not exist
        (else record them in `notes` and skip them).
    keep_entity (bool): Leave ENTITY off the drop list (it then follows the zero-shot
        ``unmapped`` policy, e.g. becomes ``misc``).
    RETURNS (LabelMapping): The mapping.
    """
    targets = _dedupe(target_labels, "target")
    pretrained = _dedupe(pretrained_labels, "pretrained")
    mapping = LabelMapping(targets=targets, pretrained=pretrained)
    owner: Dict[str, Tuple[str, str]] = {}  # pretrained -> (target, rule)
    classes = _Classes(ontology)

    # 1. exact, 2. synonym (by name: works without the ontology)
    pre_by_key: Dict[str, str] = {}
    for p in pretrained:
        pre_by_key.setdefault(canonical_key(p), p)
    for t in targets:
        p = pre_by_key.get(canonical_key(t))
        if p is not None and p not in owner:
            owner[p] = (t, EXACT)
    for t in targets:
        for syn in synonym_keys(t):
            p = pre_by_key.get(syn)
            if p is not None and p not in owner:
                owner[p] = (t, SYNONYM)
    target_classes = {t: classes.of(t) for t in targets}
    mapping.classes = {t: (cs[0] if cs else None) for t, cs in target_classes.items()}
    for t, cs in target_classes.items():
        if len(cs) > 1:
            mapping.notes.append(f"'{t}' stands for the classes {', '.join(cs)} (synonym table)")

    if ontology is not None:
        # 2. synonyms by class, 3. descendants: the nearest target class on each pretrained label's chain
        class_targets: Dict[str, List[str]] = {}
        for t in targets:
            for c in target_classes[t]:
                class_targets.setdefault(c, []).append(t)
        pre_class = {p: classes.named(p) for p in pretrained}
        for p in pretrained:
            c = pre_class[p]
            if p in owner or c is None:
                continue
            for anc in [c, *ontology.ancestors(c)]:
                cands = class_targets.get(anc)
                if cands:
                    if len(cands) > 1:
                        mapping.notes.append(
                            f"'{p}' could go to {', '.join(repr(x) for x in cands)} (same class {anc}); took '{cands[0]}'"
                        )
                    owner[p] = (cands[0], SYNONYM if anc == c else DESCENDANT)
                    break
        # 4. ancestors, for targets that still collect nothing
        got = {t for t, _ in owner.values()}
        pre_by_class: Dict[str, str] = {}
        for p in pretrained:
            if pre_class[p] is not None:
                pre_by_class.setdefault(pre_class[p], p)
        for t in targets:
            if t in got or not target_classes[t]:
                continue
            for anc in ontology.ancestors(target_classes[t][0]):
                p = pre_by_class.get(anc)
                if p is None:
                    continue
                if p in owner:
                    mapping.notes.append(
                        f"'{t}': nearest pretrained ancestor '{p}' already belongs to '{owner[p][0]}'; left unmapped"
                    )
                else:
                    owner[p] = (t, ANCESTOR)
                break

    for rules in ((EXACT,), (SYNONYM,), (DESCENDANT, ANCESTOR)):  # closest first, pretrained order inside
        for p in pretrained:
            if p in owner and owner[p][1] in rules:
                mapping.pairs[owner[p][0]][p] = owner[p][1]

    if ENTITY in pretrained and ENTITY not in owner and not keep_entity:
        mapping.dropped.append(ENTITY)
    if overrides is not None:
        apply_overrides(mapping, overrides, strict=strict)
    if keep_entity and ENTITY in mapping.dropped:
        mapping.dropped.remove(ENTITY)
        mapping.notes.append(f"{ENTITY} kept (keep_entity) although the override file drops it")
    return mapping


def _dedupe(labels: Iterable[str], what: str) -> List[str]:
    out: List[str] = []
    for label in labels:
        label = str(label).strip()
        if not label:
            continue
        if label not in out:
            out.append(label)
    if not out:
        raise NerbertError(f"no {what} labels given")
    return out


#: Keys of an override file that document it and change nothing.
_DOC_KEYS = ("description", "comment", "notes", "intentionally_unmapped")


def read_overrides(source: Union[str, Path, Mapping[str, Any]]) -> Tuple[Dict[str, Any], Optional[str]]:
    """Parse an override file into ``({"map": {target: {"pretrained": [...], "replace": bool}},
    "unmap": [...], "drop": [...], "intentionally_unmapped": [...]}, where)``.

    Accepted forms (JSON or YAML):
    - ``{"map": {target: [pretrained, ...]}, "unmap": [pretrained, ...], "drop": [...]}``:
      the listed pretrained labels move to that target (taken from whichever target had
      them); a value ``{"pretrained": [...], "replace": true}`` also removes the target's
      other labels; ``unmap`` removes pretrained labels from the mapping (they follow the
      zero-shot ``unmapped`` policy); ``drop`` removes them and marks them as always
      dropped in zero-shot use. ``description`` and ``intentionally_unmapped`` (target
      labels with no pretrained counterpart, for the reader) are documentation.
    - a mapping written by `LabelMapping.save` (edited by hand): every target it lists
      gets exactly the labels listed (replace).
    - a plain ``{target: [pretrained, ...]}`` object: like ``map``.

    source (str | Path | dict): The file or its content.
    RETURNS (Tuple[dict, str]): The normalised overrides and the file name (or None).
    """
    where = None
    data = source
    if not isinstance(source, Mapping):
        where = str(source)
        data = _read_structured(source, "label override file")
    if not isinstance(data, Mapping):
        raise NerbertError("a label override file must hold an object (target label -> pretrained labels)", where)
    result: Dict[str, Any] = {"map": {}, "unmap": [], "drop": [], "intentionally_unmapped": []}
    if "target" in data:
        full = LabelMapping.from_dict(data, where=where)
        for t in full.targets:
            result["map"][t] = {"pretrained": list(full.pairs[t]), "replace": True}
        result["drop"] = list(full.dropped)
        return result, where
    if any(k in data for k in ("map", "unmap", "drop")):
        unknown = [k for k in data if k not in ("map", "unmap", "drop", *_DOC_KEYS)]
        if unknown:
            raise NerbertError(
                f"unknown key(s) {', '.join(map(repr, unknown))} in override file "
                "(valid: map, unmap, drop, description, intentionally_unmapped)",
                where,
            )
        raw_map = data.get("map") or {}
        unmap = data.get("unmap") or []
        drop = data.get("drop") or []
    else:
        raw_map = {k: v for k, v in data.items() if k not in _DOC_KEYS}
        unmap, drop = [], []
    if not isinstance(raw_map, Mapping):
        raise NerbertError("'map' must be an object of target label -> pretrained labels", where)
    for key, val in (("unmap", unmap), ("drop", drop)):
        if not isinstance(val, (list, tuple)) or not all(isinstance(p, str) for p in val):
            raise NerbertError(f"'{key}' must be a list of pretrained label names", where)
    for t, v in raw_map.items():
        replace = False
        if isinstance(v, Mapping):
            replace = bool(v.get("replace", False))
            v = v.get("pretrained", [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, (list, tuple)) or not all(isinstance(p, str) for p in v):
            raise NerbertError(f"override of target label '{t}' must be a list of pretrained label names", where)
        result["map"][str(t)] = {"pretrained": list(v), "replace": replace}
    result["unmap"] = list(unmap)
    result["drop"] = list(drop)
    declared = data.get("intentionally_unmapped") or []
    if not isinstance(declared, (list, tuple)) or not all(isinstance(t, str) for t in declared):
        raise NerbertError("'intentionally_unmapped' must be a list of target label names", where)
    result["intentionally_unmapped"] = list(declared)
    return result, where


def apply_overrides(
    mapping: LabelMapping, overrides: Union[str, Path, Mapping[str, Any]], *, strict: bool = True
) -> LabelMapping:
    """Apply an override file to a mapping in place (see `read_overrides`).

    mapping (LabelMapping): The mapping to change.
    overrides (str | Path | dict): The override file or its content.
    strict (bool): Raise on unknown labels instead of noting and skipping them.
    RETURNS (LabelMapping): The same mapping.
    """
    data, where = read_overrides(overrides)
    known_pre = set(mapping.pretrained)
    known_tgt = set(mapping.targets)

    def problem(msg: str) -> None:
        if strict:
            raise NerbertError(msg, where)
        mapping.notes.append(f"override skipped: {msg}")

    def remove(p: str) -> None:
        for ps in mapping.pairs.values():
            ps.pop(p, None)

    for key in ("unmap", "drop"):
        for p in data[key]:
            if p not in known_pre:
                problem(f"'{key}' names pretrained label '{p}', which the pretrained label set does not have")
                continue
            remove(p)
            if key == "drop" and p not in mapping.dropped:
                mapping.dropped.append(p)
    for t, entry in data["map"].items():
        if t not in known_tgt:
            problem(f"override names target label '{t}', which is not in the target schema")
            continue
        if entry["replace"]:
            mapping.pairs[t] = {}
        for p in entry["pretrained"]:
            if p not in known_pre:
                problem(f"override maps '{t}' to pretrained label '{p}', which the pretrained label set does not have")
                continue
            previous = mapping.pairs[t].get(p)
            remove(p)
            if p in mapping.dropped:
                mapping.dropped.remove(p)
            mapping.pairs[t][p] = previous if previous is not None else OVERRIDE
    return mapping


# --- helping the user with what stayed unmapped -------------------------------------

_CAMEL = re.compile(r"([a-z])([A-Z])")


def _words(text: str) -> set:
    return {w for w in re.split(r"[^0-9a-z]+", _CAMEL.sub(r"\1 \2", text).lower()) if len(w) >= 3}


def closest_candidates(
    mapping: LabelMapping, ontology: Any = None, n: int = 5, cutoff: float = 0.75
) -> Dict[str, List[str]]:
    """For each unmapped target label, the pretrained labels whose names come closest:
    similar spelling (difflib ratio of the keys), plus a bonus for a shared word
    (``work of fiction`` ~ ``writtenwork``, whose class dbo:WrittenWork has the
    rdfs:label "written work"; ``militaryplatform`` ~ ``militaryunit``). Hints for an override file, never mapped
    automatically; dropped labels (ENTITY) are left out.

    mapping (LabelMapping): A built mapping.
    ontology (Ontology): For the pretrained labels' class labels (optional).
    n (int): Most candidates per target.
    cutoff (float): Lowest score kept (ratio 0..1, +0.5 for a shared word, less for a word
        inside both keys).
    RETURNS (Dict[str, List[str]]): unmapped target -> candidates, best first ([] if none).
    """
    classes = _Classes(ontology)
    pre = [p for p in mapping.pretrained if p not in mapping.dropped and p != ENTITY]
    pre_words = {}
    for p in pre:
        c = classes.named(p)
        pre_words[p] = _words(p) | (_words(ontology.label(c)) if c else set())
    out: Dict[str, List[str]] = {}
    for t in mapping.unmapped_target:
        tkey, twords = label_key(t), _words(t)
        scored = []
        for i, p in enumerate(pre):
            pkey = label_key(p)
            score = difflib.SequenceMatcher(None, tkey, pkey).ratio()
            if twords & pre_words[p]:
                score += 0.5
            else:  # a word inside both keys, by its share of the longer key
                inside = [len(w) for w in twords | pre_words[p] if len(w) >= 4 and w in tkey and w in pkey]
                score += 0.5 * max(inside, default=0) / max(len(tkey), len(pkey))
            if score >= cutoff:
                scored.append((-score, i, p))
        out[t] = [p for _, _, p in sorted(scored)[:n]]
    return out


def override_template(
    mapping: LabelMapping,
    candidates: Optional[Mapping[str, Sequence[str]]] = None,
    base: Optional[Union[str, Path, Mapping[str, Any]]] = None,
) -> Dict[str, Any]:
    """A starting override file for the target labels that stayed unmapped: an empty
    ``map`` entry for each (to fill with pretrained labels), the drop list, and the
    closest candidates as notes. Applied unedited, it changes nothing.

    mapping (LabelMapping): A built mapping.
    candidates (Mapping[str, Sequence[str]]): From :func:`closest_candidates`.
    base (str | Path | Mapping): An override file (or its content, ``map`` form) to extend,
        e.g. a bundled one.
    RETURNS (Dict[str, Any]): The override file's content (JSON-able).
    """
    data: Dict[str, Any] = {
        "description": "Overrides for nerbert labels map: list pretrained labels under each target in 'map' "
        "(a target with none stays unmapped); 'drop' is never turned into a target label.",
        "map": {},
    }
    drop: List[str] = []
    if base is not None and not isinstance(base, Mapping):
        base = _read_structured(base, "label override file")
    if base:
        if "target" in base:
            raise NerbertError("a saved mapping (with 'target') cannot be extended; edit it directly")
        parsed, _ = read_overrides(base)
        data.update({k: base[k] for k in _DOC_KEYS if k in base})
        for t, entry in parsed["map"].items():
            plist = entry["pretrained"]
            data["map"][t] = {"pretrained": plist, "replace": True} if entry["replace"] else plist
        if parsed["unmap"]:
            data["unmap"] = parsed["unmap"]
        drop = parsed["drop"]
    skip = set(data.get("intentionally_unmapped") or [])
    for t in mapping.unmapped_target:
        if t not in skip:
            data["map"].setdefault(t, [])
    data["drop"] = list(dict.fromkeys([*drop, *mapping.dropped]))
    notes = list(data.get("notes") or [])
    for t, cands in (candidates or {}).items():
        if cands:
            notes.append(f"{t}: closest pretrained labels {', '.join(cands)}")
    if notes:
        data["notes"] = notes
    return data


# --- label sources ------------------------------------------------------------


def _strip_bio(labels: Iterable[str]) -> List[str]:
    out: List[str] = []
    for label in labels:
        label = str(label)
        if label in ("O", "", "-"):
            continue
        if len(label) > 2 and label[1] == "-" and label[0] in "BILUES":
            label = label[2:]
        if label not in out:
            out.append(label)
    return out


def read_label_file(path: Union[str, Path]) -> List[str]:
    """Labels from a text file (one a line, ``#`` comments) or a JSON list / object
    with a ``labels`` list. BIO prefixes and "O" are removed.

    path (str | Path): The file.
    RETURNS (List[str]): The labels.
    """
    p = require_file(path, "label file")
    if p.suffix.lower() == ".json":
        data = srsly.read_json(p)
        if isinstance(data, Mapping):
            data = data.get("labels", data)
        if not isinstance(data, list):
            raise NerbertError("label file must be a JSON list of labels (or an object with 'labels')", p)
        return _strip_bio(data)
    lines = [ln.split("#", 1)[0].strip() for ln in p.read_text(encoding="utf8").splitlines()]
    return _strip_bio([ln for ln in lines if ln])


def pipeline_labels(path: Union[str, Path], component: Optional[str] = None) -> List[str]:
    """The entity labels of a saved spaCy pipeline, read from its ``meta.json``
    (no model is loaded): the labels of ``component`` or of the first
    ``bio_tagger`` / ``ner`` / ``spancat`` component.

    path (str | Path): The pipeline directory.
    component (str): Component name (default: found automatically).
    RETURNS (List[str]): The labels, without BIO prefixes.
    """
    p = Path(path)
    meta_path = p / "meta.json"
    if not meta_path.exists():
        raise NerbertError("not a spaCy pipeline directory (no meta.json)", p)
    meta = srsly.read_json(meta_path)
    labels = meta.get("labels") or {}
    if component is not None:
        if component not in labels:
            raise NerbertError(f"pipeline has no labels for component '{component}' (it has: {', '.join(labels) or 'none'})", p)
        return _strip_bio(labels[component])
    for name in labels:
        if name in ("bio_tagger", "ner", "spancat", "span_finder") or name.startswith("bio_tagger"):
            found = _strip_bio(labels[name])
            if found:
                return found
    raise NerbertError("pipeline meta.json lists no labels of a bio_tagger / ner component", p)


def read_pretrained_labels(source: Union[str, Path], ontology: Any = None) -> List[str]:
    """Pretrained labels from a pipeline directory, a label file, or a label-set
    name ("315", "212", "4"; the compressed sets need the ontology).

    source (str | Path): Where the labels are.
    ontology (Ontology): Needed for the names "212" and "4".
    RETURNS (List[str]): The labels.
    """
    s = str(source)
    if s in ("315", "212", "4"):
        return label_set_labels(s, ontology)
    p = Path(s)
    if p.is_dir():
        return pipeline_labels(p)
    return read_label_file(p)


def label_set_labels(name: str, ontology: Any = None) -> List[str]:
    """The labels of one of the paper's label sets ("315", "212", "4").

    name (str): The set's name.
    ontology (Ontology): Needed for "212" and "4".
    RETURNS (List[str]): The labels (ENTITY included).
    """
    if name == "315":
        try:
            from .labels import paper_labels
        except ImportError:  # the label module is optional for the 315 list
            path = Path(__file__).parent / "data" / "labels-315.txt"
            return [ln.strip() for ln in path.read_text(encoding="utf8").splitlines() if ln.strip()]
        return list(paper_labels())
    from . import labels as labels_mod

    if ontology is None:
        raise NerbertError(f"label set '{name}' needs the DBpedia ontology (--ontology)")
    return list(labels_mod.get_label_set(name, ontology).labels)


def target_labels_from_docbin(path: Union[str, Path], *, spans_key: Optional[str] = None) -> List[str]:
    """The entity labels used in a DocBin (``doc.ents``, or ``doc.spans[spans_key]``),
    most frequent first (ties alphabetically).

    path (str | Path): A ``.spacy`` file.
    spans_key (str): Read this span group instead of ``doc.ents``.
    RETURNS (List[str]): The labels.
    """
    from collections import Counter

    from .docio import iter_docs

    p = require_file(path, "DocBin")
    counts: Counter = Counter()
    for doc in iter_docs(p):
        spans = doc.spans.get(spans_key, []) if spans_key else doc.ents
        counts.update(s.label_ for s in spans)
    if not counts:
        raise NerbertError("DocBin has no entity annotations to take labels from", p)
    return [label for label, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def bundled_mapping_path(name: str) -> Path:
    """Path of an override file shipped in ``nerbert_spacy/data/mappings``
    (e.g. "crossner-politics").

    name (str): File stem.
    RETURNS (Path): The file.
    """
    base = Path(__file__).parent / "data" / "mappings"
    for ext in (".json", ".yml", ".yaml"):
        if (base / f"{name}{ext}").exists():
            return base / f"{name}{ext}"
    have = sorted(q.stem for q in base.glob("*.json")) if base.exists() else []
    raise NerbertError(f"no bundled label mapping '{name}' (have: {', '.join(have) or 'none'})", base)


# --- the whole `nerbert labels map` step -----------------------------------------


@dataclass
class MapResult:
    """What :func:`map_labels` did.

    mapping (LabelMapping): The mapping, saved to ``output``.
    output (Path): The mapping JSON written.
    overrides (str): The override file applied (a user's file or a bundled one), or None.
    candidates (Dict[str, List[str]]): Unmapped target labels not declared
        ``intentionally_unmapped`` -> their closest pretrained labels (best first).
    left_on_purpose (List[str]): Unmapped target labels the override file declares
        ``intentionally_unmapped``.
    edit (Path): The override file to edit to map ``candidates``' targets: the user's
        override file, else ``<output stem>.overrides.json`` beside ``output`` (written
        from :func:`override_template` unless it exists); None when no target is left
        to map.
    """

    mapping: LabelMapping
    output: Path
    overrides: Optional[str] = None
    candidates: Dict[str, List[str]] = field(default_factory=dict)
    left_on_purpose: List[str] = field(default_factory=list)
    edit: Optional[Path] = None


def map_labels(
    target_labels: Optional[Sequence[str]],
    pretrained: Union[str, Path],
    output: Union[str, Path],
    *,
    ontology: Any = None,
    overrides: Optional[str] = None,
    from_data: Optional[Union[str, Path]] = None,
    strict: bool = True,
    keep_entity: bool = False,
) -> MapResult:
    """Build a mapping of target labels onto a pretrained label set, save it, and
    prepare the override file for the targets left unmapped.

    target_labels (Sequence[str]): Target labels (may be empty with ``from_data``).
    pretrained (str | Path): A pretrained pipeline folder, a label file, or 315 / 212 / 4
        (see :func:`read_pretrained_labels`).
    output (str | Path): The mapping JSON to write.
    ontology (Ontology): DBpedia Ontology (optional: without it only exact and synonym rules).
    overrides (str): An override file (JSON/YAML), or the name of a bundled one
        (:func:`bundled_mapping_path`) when no such file exists.
    from_data (str | Path): A DocBin whose entity labels are added to the targets.
    strict (bool): Override labels that do not exist are an error (else skipped, noted).
    keep_entity (bool): See :func:`build_mapping`.
    RETURNS (MapResult): The mapping and what is left to do.
    """
    out = Path(output)
    targets = list(target_labels or [])
    if from_data is not None:
        targets += [t for t in target_labels_from_docbin(from_data) if t not in targets]
    if not targets:
        raise NerbertError("give target labels as arguments or a DocBin with --from-data")
    pre = read_pretrained_labels(pretrained, ontology)
    ov: Optional[str] = None
    bundled: Optional[Path] = None
    if overrides is not None:
        user_file = Path(overrides).exists()
        ov = overrides if user_file else str(bundled_mapping_path(overrides))
        bundled = None if user_file else Path(ov)
    mapping = build_mapping(targets, pre, ontology, ov, strict=strict, keep_entity=keep_entity)
    mapping.save(out)
    declared = read_overrides(ov)[0]["intentionally_unmapped"] if ov is not None else []
    candidates = {t: c for t, c in closest_candidates(mapping, ontology).items() if t not in declared}
    left = [t for t in mapping.unmapped_target if t in declared]
    result = MapResult(mapping, out, overrides=ov, candidates=candidates, left_on_purpose=left)
    if not candidates:
        return result
    if ov is not None and bundled is None:
        result.edit = Path(ov)
    else:
        result.edit = out.with_name(f"{out.stem}.overrides.json")
        if not result.edit.exists():  # plain json: a file meant for hand editing
            write_text_atomic(result.edit, json.dumps(override_template(mapping, candidates, bundled), indent=2) + "\n")
    return result

"""Gazetteers: entity names with labels, from files or from DBpedia, for the weak labellers.

A gazetteer is a stream of ``(name, label, priority)`` entries; the ``dbpedia_labeller``
component (:mod:`nerbert_spacy.pipeline.weak_labeller`) only matches them. Here they are
read and written (JSONL or TSV), derived from ``(title, label)`` pairs and redirects, and
typed from DBpedia: every typed entity of a :class:`~nerbert_spacy.dbpedia.types.TypeIndex`
(through its public iterators) whose classes a label set maps to a label.
"""
import re
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import srsly

from ..errors import NerbertError, require_file

#: Priorities of gazetteer names (lower wins when one name has several labels).
PRIORITY_TITLE = 0  # the entity's own title, e.g. "Angela Merkel"
PRIORITY_REDIRECT = 1  # a redirect title, e.g. "Merkel" -> Angela_Merkel
PRIORITY_BARE_TITLE = 2  # a title without its "(qualifier)", e.g. "Paris" from "Paris (band)"

_QUALIFIER = re.compile(r"^(.*\S)\s+\([^()]*\)$")


def read_gazetteer_file(path: Union[str, Path]) -> Iterator[Tuple[str, str, int]]:
    """Yield ``(name, label, priority)`` from a JSONL (``{"name", "label"[, "priority"]}``)
    or TSV (``name<TAB>label[<TAB>priority]``) file.

    Raises NerbertError naming file and line for a malformed line.
    """
    from ..docio import iter_jsonl

    path = require_file(path, "gazetteer file")
    if path.suffix == ".jsonl":
        for n, rec in iter_jsonl(path):
            if not isinstance(rec, dict) or not isinstance(rec.get("name"), str) or not isinstance(rec.get("label"), str):
                raise NerbertError("expected an object with string 'name' and 'label'", path, f"line {n}")
            yield rec["name"], rec["label"], int(rec.get("priority", PRIORITY_TITLE))
        return
    with path.open("r", encoding="utf8") as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) not in (2, 3) or not cols[0] or not cols[1]:
                raise NerbertError("expected 'name<TAB>label[<TAB>priority]'", path, f"line {n}")
            try:
                prio = int(cols[2]) if len(cols) == 3 else PRIORITY_TITLE
            except ValueError:
                raise NerbertError(f"priority {cols[2]!r} is not an integer", path, f"line {n}") from None
            yield cols[0], cols[1], prio


def write_gazetteer_file(entries: Iterable[Tuple], path: Union[str, Path]) -> int:
    """Write ``(name, label[, priority])`` entries as JSONL (atomically); returns the count."""
    from ..util import atomic_path

    n = 0
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf8") as f:
            for e in entries:
                rec = {"name": e[0], "label": e[1]}
                if len(e) > 2:
                    rec["priority"] = int(e[2])
                f.write(srsly.json_dumps(rec) + "\n")
                n += 1
    return n


def title_to_names(title: str) -> List[Tuple[str, int]]:
    """Surface names of a Wikipedia title: the title itself (underscores as
    spaces) and, for ``"X (qualifier)"``, the bare ``X`` at a lower priority."""
    name = title.replace("_", " ").strip()
    out = [(name, PRIORITY_TITLE)]
    m = _QUALIFIER.match(name)
    if m:
        out.append((m.group(1), PRIORITY_BARE_TITLE))
    return out


def gazetteer_from_titles(
    typed_titles: Iterable[Tuple[str, str]], redirects: Optional[Iterable[Tuple[str, str]]] = None
) -> Iterator[Tuple[str, str, int]]:
    """Gazetteer entries from ``(title, label)`` pairs and ``(redirect title, target title)`` pairs.

    Redirects whose target has a label get that label (priority ``PRIORITY_REDIRECT``).
    """
    label_of: Dict[str, str] = {}
    for title, label in typed_titles:
        key = title.replace(" ", "_")
        label_of[key] = label
        for name, prio in title_to_names(title):
            yield name, label, prio
    for source, target in redirects or []:
        label = label_of.get(target.replace(" ", "_"))
        if label is not None:
            yield source.replace("_", " ").strip(), label, PRIORITY_REDIRECT


def read_redirects(path: Union[str, Path]) -> Iterator[Tuple[str, str]]:
    """``(redirect title, target title)`` pairs from a TSV (``source<TAB>target``) or
    JSONL (``{"source", "target"}``) file."""
    from ..docio import iter_jsonl

    path = require_file(path, "redirects file")
    if path.suffix == ".jsonl":
        for n, rec in iter_jsonl(path):
            if not isinstance(rec, dict) or "source" not in rec or "target" not in rec:
                raise NerbertError("expected an object with 'source' and 'target'", path, f"line {n}")
            yield str(rec["source"]), str(rec["target"])
        return
    with path.open("r", encoding="utf8") as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != 2:
                raise NerbertError("expected 'source<TAB>target'", path, f"line {n}")
            yield cols[0], cols[1]


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _redirect_sources(redirects: Optional[Union[str, Path]]) -> Tuple[Optional[Dict[str, str]], List[Path]]:
    """Redirects as a dict (Wikipedia dump, TSV, JSONL) or as DBpedia redirect files (NT/TTL)."""
    if redirects is None:
        return None, []
    path = require_file(redirects, "redirects file")
    name = path.name.lower()
    if name.endswith((".xml", ".xml.bz2")):
        from ..wikipedia.dump import collect_redirects

        return collect_redirects([path]), []
    if name.endswith((".nt", ".ttl", ".nt.bz2", ".ttl.bz2")):
        return None, [path]
    return dict(read_redirects(path)), []


def gazetteer_from_dbpedia(
    types: Union[str, Path],
    ontology: Union[str, Path],
    label_set: str = "315",
    *,
    redirects: Optional[Union[str, Path]] = None,
    stats: Optional[Counter] = None,
) -> Iterator[Tuple[str, str, int]]:
    """Gazetteer entries typed through the DBpedia Ontology and a label set.

    Every entity of the instance types whose classes the label set maps to a
    label (``LabelSet.label_for``; untyped ``ENTITY`` is left out) gives its
    title (and bare title without a "(qualifier)"); every redirect whose target
    is such an entity gives the redirect title (priority ``PRIORITY_REDIRECT``).

    types (str | Path): A type index built by ``TypeIndex.build`` (e.g. the
        corpus builder's ``type_index.sqlite``, which already holds its
        redirects) or DBpedia instance-types files (``.nt``/``.ttl``[``.bz2``]).
    ontology (str | Path): DBpedia Ontology (``.owl``/``.nt``/``.ttl``).
    label_set (str): Label set name for ``nerbert_spacy.labels.get_label_set``.
    redirects (Optional[str | Path]): Extra redirects: a Wikipedia dump
        (``.xml[.bz2]``), DBpedia redirects (``.ttl``/``.nt``[``.bz2``]), or TSV/JSONL.
    stats (Optional[Counter]): Receives ``entities``, ``typed``, ``untyped``, ``redirects``.
    YIELDS (Tuple[str, str, int]): ``(name, label, priority)``.
    """
    import tempfile

    from ..dbpedia.ontology import Ontology
    from ..dbpedia.types import TypeIndex
    from ..labels import ENTITY, get_label_set

    stats = stats if stats is not None else Counter()
    labels = get_label_set(label_set, Ontology.load(ontology))
    types = require_file(types, "DBpedia types file or type index")
    red_map, red_files = _redirect_sources(redirects)
    with tempfile.TemporaryDirectory() as tmp:
        if _is_sqlite(types) and red_map is None and not red_files:
            index = TypeIndex.open(types)
        elif _is_sqlite(types):
            raise NerbertError("extra redirects need the instance-types files, not a built type index", types)
        else:
            index = TypeIndex.build([types], Path(tmp) / "types.sqlite", redirects=red_map, redirect_files=red_files)
        label_of: Dict[str, str] = {}
        for title, classes in index.iter_typed():
            stats["entities"] += 1
            label = labels.label_for(classes)
            if not label or label == ENTITY:
                stats["untyped"] += 1
                continue
            stats["typed"] += 1
            label_of[title] = label
            for name, prio in title_to_names(title):
                yield name, label, prio
        for src, _ in index.iter_redirects():
            label = label_of.get(index.resolve(src))
            if label is not None:
                stats["redirects"] += 1
                yield src, label, PRIORITY_REDIRECT
        index.close()

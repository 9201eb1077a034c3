"""The DBpedia Ontology: classes, ``rdfs:subClassOf`` parents and English labels.

The ontology is read once with rdflib (RDF/XML ``.owl``, N-Triples ``.nt`` or
Turtle ``.ttl``, each plain or ``.bz2``) and kept as three small dicts, so an
:class:`Ontology` is cheap to pickle and send to worker processes. Only
classes in the ``http://dbpedia.org/ontology/`` namespace count; parents in
other vocabularies (schema.org, DUL, ``owl:Thing``) are ignored.

A class name that is not in the ontology (e.g. ``Location``, which DBpedia's
instance data uses but the OWL file does not define) has no parents and no
ancestors, depth 0 and its own name as label.
"""

import bz2
import io
import json
import os
import re
from collections import deque
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple, Union

from ..errors import NerbertError, require_file
from ..util import write_json_atomic

DBO = "http://dbpedia.org/ontology/"
_KEY_RE = re.compile(r"[^0-9a-z]+")
_FORMATS = {".owl": "xml", ".rdf": "xml", ".xml": "xml", ".nt": "nt", ".ttl": "turtle", ".n3": "n3"}
# The parsed classes, parents and labels are also kept on disk (nerbert_spacy.cache), keyed by
# the file's content: the next process skips the rdflib parse (about 2 CPU s for the 2016 OWL).
ONTOLOGY_CACHE_FORMAT = "nerbert.ontology.v1"
# In-process cache: (resolved path, size, mtime) -> Ontology. Loading the 2016
# OWL with rdflib takes ~1.5 s; the corpus builder and the label sets ask for
# the same file several times.
_CACHE: Dict[Tuple[str, int, int], "Ontology"] = {}


def _rdf_format(path: Path) -> Tuple[str, bool]:
    name = path.name.lower()
    compressed = name.endswith(".bz2")
    if compressed:
        name = name[: -len(".bz2")]
    ext = os.path.splitext(name)[1]
    if ext not in _FORMATS:
        raise NerbertError(
            f"unknown ontology format '{ext or name}' (expected .owl, .rdf, .nt or .ttl, optionally .bz2)",
            path,
        )
    return _FORMATS[ext], compressed


def _cache_file(path: Path) -> Optional[Path]:
    from ..cache import cache_dir, file_key

    folder = cache_dir("ontology")
    return None if folder is None else folder / f"{file_key(ONTOLOGY_CACHE_FORMAT, [path])}.json"


def _read_cached(path: Path) -> Optional[Dict[str, Any]]:
    """The parents and labels parsed from this file before (see :mod:`nerbert_spacy.cache`), or None."""
    entry = _cache_file(path)
    if entry is None or not entry.exists():
        return None
    try:
        data = json.loads(entry.read_text(encoding="utf8"))
        if data.get("format") == ONTOLOGY_CACHE_FORMAT and isinstance(data.get("parents"), dict):
            return {"parents": data["parents"], "labels": data.get("labels") or {}}
    except (OSError, ValueError, AttributeError):
        pass  # unreadable entry: parse the file again, which rewrites it
    return None


def _write_cached(path: Path, onto: "Ontology") -> None:
    entry = _cache_file(path)
    if entry is None:
        return
    data = onto.to_dict()
    try:
        write_json_atomic(entry, {"format": ONTOLOGY_CACHE_FORMAT, "parents": data["parents"], "labels": data["labels"]}, indent=0)
    except OSError:
        pass  # a cache that cannot be written only costs the next parse


class Ontology:
    """DBpedia Ontology classes with their parents, depths and labels.

    classes (Set[str]): Local class names, e.g. ``"PopulatedPlace"``.
    """

    def __init__(
        self,
        parents: Dict[str, List[str]],
        labels: Optional[Dict[str, str]] = None,
        source: Optional[str] = None,
    ) -> None:
        """Build an ontology from plain data (also used by tests).

        parents (Dict[str, List[str]]): Class -> direct dbo parents (owl:Thing excluded).
            Every class, parents included, becomes a member of ``classes``.
        labels (Optional[Dict[str, str]]): Class -> English label.
        source (Optional[str]): Where the data came from (for messages).
        """
        self.source = source
        classes: Set[str] = set(parents)
        for ps in parents.values():
            classes.update(ps)
        self.classes: Set[str] = classes
        self._parents: Dict[str, List[str]] = {c: sorted(set(parents.get(c, ()))) for c in classes}
        self._labels: Dict[str, str] = dict(labels or {})
        self._by_key: Dict[str, str] = {}
        for c in sorted(classes):
            self._by_key.setdefault(self.key(c), c)
        self._depth: Dict[str, int] = {}
        self._ancestors: Dict[str, List[str]] = {}

    # -- loading ---------------------------------------------------------
    @classmethod
    def load(cls, path: Union[str, Path]) -> "Ontology":
        """Read a DBpedia Ontology file with rdflib.

        path (str | Path): ``.owl`` (RDF/XML), ``.nt`` or ``.ttl``, plain or ``.bz2``.
        RETURNS (Ontology): The classes, parents and labels (cached per file in-process).
        """
        path = require_file(path, "DBpedia ontology file")
        st = path.stat()
        cache_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if cache_key in _CACHE:
            return _CACHE[cache_key]
        fmt, compressed = _rdf_format(path)
        stored = _read_cached(path)
        if stored is not None:
            onto = cls(stored["parents"], stored["labels"], source=str(path))
            _CACHE[cache_key] = onto
            return onto
        import rdflib
        from rdflib.namespace import OWL, RDF, RDFS

        graph = rdflib.Graph()
        try:
            if compressed:
                with bz2.open(path, "rb") as f:
                    data = f.read()
            else:
                data = path.read_bytes()
            graph.parse(source=io.BytesIO(data), format=fmt)
        except (EOFError, OSError) as e:
            raise NerbertError(f"cannot read the ontology (truncated or corrupt .bz2?): {e}", path) from None
        except Exception as e:  # rdflib raises many types (SAXParseException, BadSyntax, ...)
            where = None
            line = getattr(e, "getLineNumber", None)
            if callable(line):
                where = f"line {line()}"
            elif getattr(e, "lines", None) is not None:
                where = f"line {e.lines + 1}"
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise NerbertError(f"malformed ontology ({fmt}): {msg}", path, where) from None
        parents: Dict[str, List[str]] = {}
        for kind in (OWL.Class, RDFS.Class):
            for s in graph.subjects(RDF.type, kind):
                s = str(s)
                if s.startswith(DBO) and len(s) > len(DBO):
                    parents.setdefault(s[len(DBO) :], [])
        for s, o in graph.subject_objects(RDFS.subClassOf):
            s, o = str(s), str(o)
            if s.startswith(DBO) and len(s) > len(DBO):
                ps = parents.setdefault(s[len(DBO) :], [])
                if o.startswith(DBO) and len(o) > len(DBO):
                    ps.append(o[len(DBO) :])
        if not parents:
            raise NerbertError("no DBpedia Ontology classes (http://dbpedia.org/ontology/...) found", path)
        labels: Dict[str, str] = {}
        for s, o in graph.subject_objects(RDFS.label):
            s = str(s)
            if s.startswith(DBO) and s[len(DBO) :] in parents and getattr(o, "language", None) == "en":
                name = s[len(DBO) :]
                # several @en labels: keep the smallest for determinism
                if name not in labels or str(o) < labels[name]:
                    labels[name] = str(o)
        onto = cls(parents, labels, source=str(path))
        _CACHE[cache_key] = onto
        _write_cached(path, onto)
        return onto

    # -- plain data round trip (small, JSON-able) -------------------------
    def to_dict(self) -> Dict[str, object]:
        """RETURNS (dict): ``{"parents": {...}, "labels": {...}, "source": ...}`` (JSON-able)."""
        return {
            "parents": {c: list(self._parents[c]) for c in sorted(self.classes)},
            "labels": dict(sorted(self._labels.items())),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "Ontology":
        """Inverse of :meth:`to_dict`."""
        return cls(data["parents"], data.get("labels"), data.get("source"))  # type: ignore[arg-type]

    def __getstate__(self):
        return self.to_dict()

    def __setstate__(self, state):
        self.__init__(state["parents"], state.get("labels"), state.get("source"))

    def __len__(self) -> int:
        return len(self.classes)

    def __contains__(self, cls: str) -> bool:
        return cls in self.classes

    def __repr__(self) -> str:
        return f"Ontology({len(self.classes)} classes from {self.source!r})"

    # -- queries ---------------------------------------------------------
    def parents(self, cls: str) -> List[str]:
        """cls (str): Local class name. RETURNS (List[str]): Direct dbo parents, sorted; [] if unknown."""
        return list(self._parents.get(cls, ()))

    def ancestors(self, cls: str) -> List[str]:
        """All dbo ancestors, nearest first (BFS over rdfs:subClassOf; ties by name).

        cls (str): Local class name.
        RETURNS (List[str]): Ancestors without ``cls`` itself and without owl:Thing; [] if unknown.
        """
        if cls in self._ancestors:
            return list(self._ancestors[cls])
        out: List[str] = []
        seen = {cls}
        queue = deque(self._parents.get(cls, ()))
        for p in queue:
            seen.add(p)
        while queue:
            c = queue.popleft()
            out.append(c)
            for p in self._parents.get(c, ()):
                if p not in seen:
                    seen.add(p)
                    queue.append(p)
        self._ancestors[cls] = out
        return list(out)

    def depth(self, cls: str) -> int:
        """Length of the longest subClassOf path up to owl:Thing.

        cls (str): Local class name.
        RETURNS (int): 1 for a top class (direct child of owl:Thing), 0 for a class
            that is not in the ontology.
        """
        if cls not in self.classes:
            return 0
        if cls in self._depth:
            return self._depth[cls]
        # iterative DFS (cycle-safe: a class on the current path counts as a root)
        stack: List[Tuple[str, bool]] = [(cls, False)]
        on_path: Set[str] = set()
        while stack:
            c, done = stack.pop()
            if done:
                on_path.discard(c)
                ps = [p for p in self._parents.get(c, ()) if p in self._depth]
                self._depth[c] = 1 + max((self._depth[p] for p in ps), default=0)
                continue
            if c in self._depth:
                continue
            on_path.add(c)
            stack.append((c, True))
            for p in self._parents.get(c, ()):
                if p not in self._depth and p not in on_path:
                    stack.append((p, False))
        return self._depth[cls]

    def label(self, cls: str) -> str:
        """cls (str): Local class name. RETURNS (str): Its rdfs:label@en, else the local name."""
        return self._labels.get(cls, cls)

    @staticmethod
    def key(name: str) -> str:
        """The paper's label spelling of a class name or label.

        name (str): ``"PopulatedPlace"``, ``"populated place"``, ``"dbo:PopulatedPlace"``, ...
        RETURNS (str): Lower case with everything but letters and digits removed
            (``"populatedplace"``).
        """
        if name.startswith("dbo:"):
            name = name[4:]
        elif name.startswith(DBO):
            name = name[len(DBO) :]
        return _KEY_RE.sub("", name.lower())

    def by_key(self, key: str) -> Optional[str]:
        """key (str): A label key (any spelling, normalised with :meth:`key`).
        RETURNS (Optional[str]): The class with that key, or None.
        """
        return self._by_key.get(self.key(key))

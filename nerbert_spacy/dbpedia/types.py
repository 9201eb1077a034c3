"""A compact on-disk index from page titles to their DBpedia Ontology classes.

:meth:`TypeIndex.build` streams DBpedia instance-type files line by line
(N-Triples, or Turtle with one triple a line such as ``dbr:X a dbo:Y .``;
plain or ``.bz2``) and keeps only ``rdf:type`` triples whose object is a
``dbo:`` class. The result is one SQLite file (``WITHOUT ROWID`` tables keyed
by title) that many worker processes open read-only at the same time; it
never holds the data in an rdflib graph or a Python dict, so it scales to
the full DBpedia release (5M+ entities).

Titles are normalised with :func:`~nerbert_spacy.wikipedia.wikitext.normalize_title`
(percent-escapes decoded, ``_`` -> space), so ``dbr:AT%26T`` and the link
``[[AT&amp;T]]`` meet. Redirects (from the Wikipedia dump and/or DBpedia's
redirects file) are stored beside the types and followed before a lookup.

Bad lines (malformed triples, invalid UTF-8, undefined prefixes) are counted
in ``stats["malformed_lines"]`` with the first 20 messages (file + line) in
``stats["errors"]``, and skipped; a truncated ``.bz2`` keeps the lines read before it.
"""

import bz2
import itertools
import json
import operator
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import NerbertError, require_file
from ..util import atomic_path
from ..wikipedia.wikitext import normalize_title

__all__ = ["TypeIndex", "iter_redirect_triples", "iter_triples"]

PathLike = Union[str, Path]
DBO = "http://dbpedia.org/ontology/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
REDIRECT_PRED = DBO + "wikiPageRedirects"
MAX_ERRORS = 20
BATCH = 50_000
MAX_REDIRECT_HOPS = 20
_DEFAULT_PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "dbo": DBO,
    "dbr": "http://dbpedia.org/resource/",
    "dbpedia-owl": DBO,
    "dbpedia": "http://dbpedia.org/resource/",
    "schema": "http://schema.org/",
}
# fast path: DBpedia's own N-Triples form
_NT_TYPE_RE = re.compile(
    r"<https?://(?:[a-z-]+\.)?dbpedia\.org/resource/([^>]*)> "
    r"<http://www\.w3\.org/1999/02/22-rdf-syntax-ns#type> <http://dbpedia\.org/ontology/([^>/#]+)> \.\s*$"
)
# the same, over a block of lines (each line one match; "\n" never inside a match)
_NT_TYPE_LINES_RE = re.compile(
    r"^<https?://(?:[a-z-]+\.)?dbpedia\.org/resource/([^>\n]*)> "
    r"<http://www\.w3\.org/1999/02/22-rdf-syntax-ns#type> <http://dbpedia\.org/ontology/([^>/#\n]+)> \.[^\S\n]*$",
    re.M,
)
_PREFIX_RE = re.compile(r"^(?:@prefix|PREFIX)\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>\s*\.?\s*$", re.I)
_TERM_RE = re.compile(r'\s*(<[^<>"{}|^`\s]*>|[A-Za-z][\w.-]*:[^\s<>"]*|:[^\s<>"]*|a(?=\s))')
_LITERAL_RE = re.compile(r'\s*("(?:[^"\\]|\\.)*"(?:@[A-Za-z-]+|\^\^\S+)?|-?\d[\d.eE+-]*|true|false)')
_RESOURCE_RE = re.compile(r"^https?://(?:[a-z-]+\.)?dbpedia\.org/resource/(.+)$")
_UCHAR_RE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


class _LineError(Exception):
    pass


def _unescape_iri(iri: str) -> str:
    if "\\" in iri:
        iri = _UCHAR_RE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), iri)
    return iri


def _expand(term: str, prefixes: Dict[str, str]) -> str:
    if term.startswith("<"):
        return _unescape_iri(term[1:-1])
    if term == "a":
        return RDF_TYPE
    prefix, _, local = term.partition(":")
    if prefix not in prefixes:
        raise _LineError(f"undefined prefix '{prefix}:'")
    return prefixes[prefix] + local.replace("\\", "")


def _parse_line(line: str, prefixes: Dict[str, str]) -> Optional[Tuple[str, str, str]]:
    """Parse one line into (subject IRI, predicate IRI, object IRI or literal); None for no triple."""
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    m = _PREFIX_RE.match(s)
    if m:
        prefixes[m.group(1) or ""] = m.group(2)
        return None
    if s.lower().startswith(("@base", "base ")):
        return None
    if not s.endswith("."):
        raise _LineError("no final '.' (one triple per line expected)")
    body = s[:-1]
    pos = 0
    terms: List[str] = []
    for i in range(3):
        m = _TERM_RE.match(body, pos)
        if m is None and i == 2:
            m = _LITERAL_RE.match(body, pos)
            if m is not None:
                terms.append(m.group(1))
                pos = m.end()
                break
        if m is None:
            raise _LineError(f"cannot read the {('subject', 'predicate', 'object')[i]}")
        terms.append(m.group(1).rstrip("."))
        pos = m.end()
    if body[pos:].strip():
        raise _LineError("unexpected text after the object")
    subj = _expand(terms[0], prefixes)
    pred = _expand(terms[1], prefixes)
    obj = terms[2]
    obj = (
        obj
        if obj.startswith('"') or obj[:1].isdigit() or obj[:1] == "-" or obj in ("true", "false")
        else _expand(obj, prefixes)
    )
    return subj, pred, obj


class _LineReader:
    """Decoded lines of a plain or .bz2 file with line numbers; bad bytes and truncation are reported."""

    def __init__(self, path: Path, stats: Dict[str, Any]) -> None:
        self.path = path
        self.stats = stats

    def error(self, msg: str) -> None:
        self.stats["malformed_lines"] += 1
        if len(self.stats["errors"]) < MAX_ERRORS:
            self.stats["errors"].append(msg)

    def __iter__(self) -> Iterator[Tuple[int, str]]:
        for lineno, text in self.blocks():
            for i, line in enumerate(_lines(text)):
                yield lineno + i, line

    def blocks(self, size: int = 1 << 16) -> Iterator[Tuple[int, str]]:
        """Whole lines, many at a time: ``(number of the first line, their text)``.

        The file is read in pieces of ``size`` bytes; a piece that is not valid UTF-8 is
        yielded line by line, each bad line reported and skipped (its number still counts).
        """
        with open(self.path, "rb") as f:
            compressed = f.read(3) == b"BZh"
        f = bz2.open(self.path, "rb") if compressed else open(self.path, "rb")
        read = f.read1 if compressed else f.read  # type: ignore[attr-defined]
        lineno = 0
        carry = b""
        with f:
            while True:
                try:
                    data = read(size)
                except EOFError as e:
                    self.stats["truncated"] += 1
                    self._fatal(f"{self.path}: truncated .bz2 after line {lineno} ({e}); the rest is skipped")
                    return
                except OSError as e:
                    self.stats["truncated"] += 1
                    self._fatal(f"{self.path}: corrupt .bz2 data after line {lineno} ({e}); the rest is skipped")
                    return
                if data:
                    data = carry + data
                    cut = data.rfind(b"\n") + 1
                    carry, data = data[cut:], data[:cut]
                else:
                    data, carry = carry, b""
                if not data:
                    if carry:
                        continue
                    return
                try:
                    text = data.decode("utf8")
                except UnicodeDecodeError:
                    text = None
                if text is not None:
                    yield lineno + 1, text
                    lineno += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
                    continue
                for raw in _byte_lines(data):
                    lineno += 1
                    try:
                        line = raw.decode("utf8")
                    except UnicodeDecodeError as e:
                        self.error(
                            f"{self.path} (line {lineno}): invalid UTF-8 bytes at column {e.start + 1}; line skipped"
                        )
                        continue
                    yield lineno, line

    def _fatal(self, msg: str) -> None:
        if len(self.stats["errors"]) < MAX_ERRORS:
            self.stats["errors"].append(msg)


def _byte_lines(data: bytes) -> List[bytes]:
    """``data`` split after each b"\\n" (as ``readline`` splits a file)."""
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _lines(text: str) -> List[str]:
    """``text`` split after each "\\n" (as ``readline`` splits a file)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _new_stats() -> Dict[str, Any]:
    return {
        "files": [],
        "lines": 0,
        "triples": 0,
        "entities": 0,
        "classes": 0,
        "redirects": 0,
        "malformed_lines": 0,
        "truncated": 0,
        "non_dbo_types": 0,
        "other_predicates": 0,
        "non_resource_subjects": 0,
        "errors": [],
    }


def iter_triples(path: PathLike, stats: Optional[Dict[str, Any]] = None) -> Iterator[Tuple[str, str, str]]:
    """Stream (subject, predicate, object) of an N-Triples / line-based Turtle file.

    path (str | Path): ``.nt`` / ``.ttl``, plain or ``.bz2``.
    stats (Optional[Dict[str, Any]]): Receives ``lines``, ``malformed_lines``, ``errors``.
    YIELDS (Tuple[str, str, str]): Expanded IRIs; a literal object is yielded as written.
    """
    p = require_file(path, "RDF triples file")
    st = stats if stats is not None else _new_stats()
    for key, value in _new_stats().items():
        st.setdefault(key, value)
    reader = _LineReader(p, st)
    prefixes = dict(_DEFAULT_PREFIXES)
    for lineno, line in reader:
        st["lines"] += 1
        try:
            triple = _parse_line(line, prefixes)
        except _LineError as e:
            reader.error(f"{p} (line {lineno}): malformed triple: {e}; line skipped")
            continue
        if triple is not None:
            yield triple


def iter_redirect_triples(path: PathLike, stats: Optional[Dict[str, Any]] = None) -> Iterator[Tuple[str, str]]:
    """Stream the redirects of a DBpedia redirects file (``dbo:wikiPageRedirects``).

    path (str | Path): ``redirects_en.ttl`` / ``.nt``, plain or ``.bz2``.
    stats (Optional[Dict[str, Any]]): Receives line counts and errors.
    YIELDS (Tuple[str, str]): ``(title, target)``, both normalised.
    """
    for subj, pred, obj in iter_triples(path, stats):
        if pred != REDIRECT_PRED:
            continue
        ms = _RESOURCE_RE.match(subj)
        mo = _RESOURCE_RE.match(obj) if not obj.startswith('"') else None
        if ms and mo:
            src, dst = normalize_title(ms.group(1)), normalize_title(mo.group(1))
            if src and dst and src != dst:
                yield src, dst


# the part of an index built from the DBpedia files alone, as cached (bump when _fill changes)
TYPE_INDEX_CACHE_FORMAT = "nerbert.type-index-base.v1"


def _base_cache_entry(files: Sequence[Path], rfiles: Sequence[Path]) -> Optional[Path]:
    from ..cache import cache_dir, file_key

    folder = cache_dir("type-index")
    if folder is None:
        return None
    return folder / f"{file_key(TYPE_INDEX_CACHE_FORMAT, [*files, *rfiles], len(files))}.sqlite"


class TypeIndex:
    """Title -> DBpedia Ontology classes, redirect-aware, in one SQLite file.

    stats (Dict[str, Any]): ``entities``, ``triples``, ``malformed_lines``,
        ``errors`` (first 20 messages), ``redirects``, ``size_bytes`` and more
        counters, as written by :meth:`build` (no timings: the same input gives
        the same stats and the same file bytes).
    build_seconds (Optional[float]): Wall time of :meth:`build` (None after :meth:`open`).
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._conn: Optional[sqlite3.Connection] = None
        self._pid: Optional[int] = None
        self.build_seconds: Optional[float] = None  # set by build(); kept out of stats (deterministic)
        self.dump_redirects: Optional[int] = None  # set by build(): distinct titles of ``redirects``
        meta = dict(self._db().execute("SELECT key, value FROM meta").fetchall())
        self.stats: Dict[str, Any] = json.loads(meta.get("stats", "{}"))
        self._class_names: Dict[int, str] = dict(self._db().execute("SELECT id, name FROM classes").fetchall())
        self._len = int(meta.get("entities", "0"))
        self.stats["size_bytes"] = self.path.stat().st_size

    # -- connection per process (safe after fork and for pickling) ----------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            uri = self.path.resolve().as_uri() + "?mode=ro&immutable=1"
            try:
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
                self._conn.execute("SELECT 1 FROM meta LIMIT 1")
            except sqlite3.DatabaseError as e:
                raise NerbertError(f"not a type index built by TypeIndex.build ({e})", self.path) from None
            self._pid = os.getpid()
        return self._conn

    def __getstate__(self):
        return {"path": str(self.path)}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def close(self) -> None:
        """Close this process's connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- building ----------------------------------------------------------
    @classmethod
    def build(
        cls,
        type_files: Sequence[PathLike],
        index_path: PathLike,
        *,
        redirects: Optional[Union[Mapping[str, str], Iterable[Tuple[str, str]]]] = None,
        redirect_files: Sequence[PathLike] = (),
    ) -> "TypeIndex":
        """Stream instance-type files into a new index file (written atomically).

        type_files (Sequence[str | Path]): N-Triples / Turtle files, plain or ``.bz2``.
        index_path (str | Path): The SQLite file to write (replaced if it exists).
        redirects (Optional[Union[Mapping[str, str], Iterable[Tuple[str, str]]]]): Title ->
            target from the dumps (e.g. :func:`~nerbert_spacy.wikipedia.dump.collect_redirects`),
            or ``(title, target)`` pairs streamed in order (a later pair for a title wins); they
            win over the redirect files. Their number of distinct titles is ``dump_redirects``.
        redirect_files (Sequence[str | Path]): DBpedia redirects files (``dbo:wikiPageRedirects``).
        RETURNS (TypeIndex): The index, opened read-only.
        """
        files = [require_file(f, "DBpedia instance-types file") for f in type_files]
        rfiles = [require_file(f, "DBpedia redirects file") for f in redirect_files]
        if not files:
            raise NerbertError("TypeIndex.build needs at least one instance-types file")
        t0 = time.perf_counter()
        stats = _new_stats()
        stats["files"] = [str(f) for f in files]
        stats["redirect_files"] = [str(f) for f in rfiles]
        index_path = Path(index_path)
        with atomic_path(index_path) as tmp:
            tmp.unlink()
            stats = cls._base(files, rfiles, tmp, stats)
            conn = sqlite3.connect(str(tmp))
            try:
                dump_redirects = cls._add_dump_redirects(conn, redirects)
                stats["redirects"] = conn.execute("SELECT COUNT(*) FROM redirects").fetchone()[0]
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('stats', ?)", (json.dumps(stats),))
                conn.commit()
                conn.execute("VACUUM")
            finally:
                conn.close()
        index = cls(index_path)
        index.build_seconds = time.perf_counter() - t0
        index.dump_redirects = dump_redirects
        return index

    @classmethod
    def _base(cls, files: List[Path], rfiles: List[Path], path: Path, stats: Dict[str, Any]) -> Dict[str, Any]:
        """Write the part of the index that depends only on the DBpedia files (types and
        DBpedia's redirects) to ``path``: a copy of the cached one when these files were
        indexed before (:mod:`nerbert_spacy.cache`), else built and then cached.
        RETURNS (Dict[str, Any]): The stats of that part."""
        entry = _base_cache_entry(files, rfiles)
        if entry is not None and entry.exists():
            try:
                shutil.copyfile(entry, path)
                conn = sqlite3.connect(str(path))
                try:
                    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                finally:
                    conn.close()
                if meta.get("format") == "nerbert.TypeIndex.v1" and "stats" in meta:
                    cached = json.loads(meta["stats"])
                    cached["files"], cached["redirect_files"] = stats["files"], stats["redirect_files"]
                    return cached
            except (OSError, sqlite3.DatabaseError, ValueError):
                pass  # an unreadable entry is rebuilt below (and replaced)
            path.unlink(missing_ok=True)
        conn = sqlite3.connect(str(path))
        try:
            cls._fill(conn, files, rfiles, stats)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('stats', ?)", (json.dumps(stats),))
            conn.commit()
            conn.execute("VACUUM")
        finally:
            conn.close()
        if entry is not None:
            try:
                with atomic_path(entry) as tmp:
                    shutil.copyfile(path, tmp)
            except OSError:
                pass  # a cache that cannot be written only costs the next build
        return stats

    @staticmethod
    def _fill(conn: sqlite3.Connection, files: List[Path], rfiles: List[Path], stats: Dict[str, Any]) -> None:
        """The types of ``files`` and the redirects of ``rfiles`` into a new index."""
        conn.executescript(
            """
            PRAGMA journal_mode=OFF;
            PRAGMA synchronous=OFF;
            PRAGMA page_size=4096;
            PRAGMA cache_size=-200000;
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
            CREATE TABLE classes(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
            CREATE TABLE types(title TEXT NOT NULL, cls INTEGER NOT NULL, PRIMARY KEY(title, cls)) WITHOUT ROWID;
            CREATE TABLE redirects(title TEXT PRIMARY KEY, target TEXT NOT NULL) WITHOUT ROWID;
            """
        )
        class_ids: Dict[str, int] = {}
        batch: List[Tuple[str, int]] = []

        def flush() -> None:
            conn.executemany("INSERT OR IGNORE INTO types VALUES (?, ?)", batch)
            batch.clear()

        for path in files:
            reader = _LineReader(path, stats)
            prefixes = dict(_DEFAULT_PREFIXES)

            def add(lineno: int, title: str, cname: str) -> None:
                title = normalize_title(_unescape_iri(title))
                if not title:
                    reader.error(f"{path} (line {lineno}): empty resource name; line skipped")
                    return
                cid = class_ids.get(cname)
                if cid is None:
                    cid = class_ids[cname] = len(class_ids) + 1
                    conn.execute("INSERT INTO classes VALUES (?, ?)", (cid, cname))
                batch.append((title, cid))
                stats["triples"] += 1
                if len(batch) >= BATCH:
                    flush()

            for first, text in reader.blocks():
                # fast path: a block of DBpedia's own N-Triples type lines, matched in one go
                found = _NT_TYPE_LINES_RE.findall(text)
                if len(found) == text.count("\n") + (0 if text.endswith("\n") else 1):
                    stats["lines"] += len(found)
                    for i, (title, cname) in enumerate(found):
                        add(first + i, title, cname)
                    continue
                for lineno, line in enumerate(_lines(text), first):
                    stats["lines"] += 1
                    m = _NT_TYPE_RE.match(line)
                    if m is not None:
                        add(lineno, m.group(1), m.group(2))
                        continue
                    try:
                        triple = _parse_line(line, prefixes)
                    except _LineError as e:
                        reader.error(f"{path} (line {lineno}): malformed triple: {e}; line skipped")
                        continue
                    if triple is None:
                        continue
                    subj, pred, obj = triple
                    if pred != RDF_TYPE:
                        stats["other_predicates"] += 1
                        continue
                    if not obj.startswith(DBO) or not obj[len(DBO) :] or "/" in obj[len(DBO) :]:
                        stats["non_dbo_types"] += 1
                        continue
                    ms = _RESOURCE_RE.match(subj)
                    if ms is None:
                        stats["non_resource_subjects"] += 1
                        continue
                    add(lineno, ms.group(1), obj[len(DBO) :])
        flush()
        rbatch: List[Tuple[str, str]] = []

        def rflush() -> None:
            conn.executemany("INSERT OR REPLACE INTO redirects VALUES (?, ?)", rbatch)
            rbatch.clear()

        for rpath in rfiles:
            for src, dst in iter_redirect_triples(rpath, stats):
                rbatch.append((src, dst))
                if len(rbatch) >= BATCH:
                    rflush()
        rflush()
        stats["entities"] = conn.execute("SELECT COUNT(*) FROM (SELECT DISTINCT title FROM types)").fetchone()[0]
        stats["redirects"] = conn.execute("SELECT COUNT(*) FROM redirects").fetchone()[0]
        stats["classes"] = len(class_ids)
        conn.execute("INSERT INTO meta VALUES ('entities', ?)", (str(stats["entities"]),))
        conn.execute("INSERT INTO meta VALUES ('format', 'nerbert.TypeIndex.v1')")

    @staticmethod
    def _add_dump_redirects(
        conn: sqlite3.Connection, redirects: Optional[Union[Mapping[str, str], Iterable[Tuple[str, str]]]]
    ) -> int:
        """Add the dump's redirects; they win over DBpedia's (they come from the text being
        annotated). RETURNS (int): Their number of distinct titles."""
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000;")
        rbatch: List[Tuple[str, str]] = []

        def rflush() -> None:
            conn.executemany("INSERT OR REPLACE INTO redirects VALUES (?, ?)", rbatch)
            rbatch.clear()

        conn.execute("CREATE TEMP TABLE dump_titles(title TEXT PRIMARY KEY) WITHOUT ROWID")
        pairs = redirects.items() if isinstance(redirects, Mapping) else (redirects or ())

        def dflush() -> None:
            conn.executemany("INSERT OR IGNORE INTO dump_titles VALUES (?)", [(src,) for src, _ in rbatch])
            rflush()

        for src, dst in pairs:
            src, dst = normalize_title(src), normalize_title(dst)
            if src and dst and src != dst:
                rbatch.append((src, dst))
                if len(rbatch) >= BATCH:
                    dflush()
        dflush()
        dump_redirects = conn.execute("SELECT COUNT(*) FROM dump_titles").fetchone()[0]
        conn.execute("DROP TABLE dump_titles")
        return int(dump_redirects)

    @classmethod
    def open(cls, index_path: PathLike) -> "TypeIndex":
        """index_path (str | Path): A file written by :meth:`build`. RETURNS (TypeIndex): Opened read-only."""
        return cls(require_file(index_path, "type index"))

    # -- lookups -------------------------------------------------------------
    def resolve(self, title: str) -> str:
        """Follow redirects from ``title`` (normalised first); cycle-safe.

        title (str): A page title or link target.
        RETURNS (str): The final target (``title`` normalised if it is no redirect;
            on a cycle, the last title before it repeats).
        """
        cur = normalize_title(title)
        seen = {cur}
        db = self._db()
        for _ in range(MAX_REDIRECT_HOPS):
            row = db.execute("SELECT target FROM redirects WHERE title = ?", (cur,)).fetchone()
            if row is None or row[0] in seen:
                break
            cur = row[0]
            seen.add(cur)
        return cur

    def classes(self, title: str) -> List[str]:
        """title (str): A page title or link target (redirects followed).
        RETURNS (List[str]): Its dbo class local names, sorted; [] if unknown.
        """
        target = self.resolve(title)
        db = self._db()
        rows = db.execute("SELECT cls FROM types WHERE title = ?", (target,)).fetchall()
        if not rows:
            norm = normalize_title(title)
            if norm != target:  # a typed redirect page
                rows = db.execute("SELECT cls FROM types WHERE title = ?", (norm,)).fetchall()
        return sorted(self._class_names[r[0]] for r in rows)

    def _rows_in(self, sql: str, keys: Sequence[str]) -> List[Tuple[Any, ...]]:
        """``sql`` (with ``{}`` for the placeholders) run over ``keys`` in chunks of 500."""
        db, rows = self._db(), []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows.extend(db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall())
        return rows

    def resolve_many(self, titles: Iterable[str]) -> Dict[str, str]:
        """:meth:`resolve` for many titles, one query per redirect hop for all of them.

        titles (Iterable[str]): Page titles or link targets.
        RETURNS (Dict[str, str]): Title -> :meth:`resolve` of it.
        """
        state = {t: [normalize_title(t)] for t in set(titles)}  # path followed so far
        open_ = list(state)
        for _ in range(MAX_REDIRECT_HOPS):
            if not open_:
                break
            heads = sorted({state[t][-1] for t in open_})
            targets = dict(self._rows_in("SELECT title, target FROM redirects WHERE title IN ({})", heads))
            still = []
            for t in open_:
                path = state[t]
                nxt = targets.get(path[-1])
                if nxt is not None and nxt not in path:
                    path.append(nxt)
                    still.append(t)
            open_ = still
        return {t: path[-1] for t, path in state.items()}

    def classes_many(self, titles: Iterable[str]) -> Dict[str, List[str]]:
        """:meth:`classes` for many titles with a few queries.

        titles (Iterable[str]): Page titles or link targets (redirects followed).
        RETURNS (Dict[str, List[str]]): Title -> its dbo class local names, sorted.
        """
        resolved = self.resolve_many(titles)
        norms = {t: normalize_title(t) for t in resolved}
        keys = sorted(set(resolved.values()) | set(norms.values()))
        found: Dict[str, List[str]] = {}
        for title, cls in self._rows_in("SELECT title, cls FROM types WHERE title IN ({})", keys):
            found.setdefault(title, []).append(self._class_names[cls])
        out = {}
        for t, target in resolved.items():
            names = found.get(target) or (found.get(norms[t], []) if norms[t] != target else [])
            out[t] = sorted(names)
        return out

    # -- iteration -----------------------------------------------------------
    def iter_typed(self) -> Iterator[Tuple[str, List[str]]]:
        """Every typed title of the index with its classes, in title order.

        YIELDS (Tuple[str, List[str]]): ``(title, dbo class local names sorted)``.
        """
        rows = self._db().execute(
            "SELECT t.title, c.name FROM types t JOIN classes c ON t.cls = c.id ORDER BY t.title, c.name"
        )
        for title, group in itertools.groupby(rows, key=operator.itemgetter(0)):
            yield title, [name for _, name in group]

    def iter_redirects(self) -> Iterator[Tuple[str, str]]:
        """Every redirect the index holds (DBpedia's and the dumps'), in title order.

        YIELDS (Tuple[str, str]): ``(redirect title, its direct target)``; :meth:`resolve`
            follows chains of them.
        """
        yield from self._db().execute("SELECT title, target FROM redirects ORDER BY title")

    def __contains__(self, title: str) -> bool:
        return bool(self.classes(title))

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"TypeIndex({str(self.path)!r}, {self._len} entities)"

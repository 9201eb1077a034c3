"""Type Wikipedia articles from their own infobox templates, through DBpedia's
infobox mappings (the mappings wiki export ``Mapping_en.xml``).

DBpedia derives its instance types from exactly these mappings: a page
``Mapping en:Infobox officeholder`` holds ``{{TemplateMapping | mapToClass =
OfficeHolder | ...}}``, and every article using ``{{Infobox officeholder}}``
becomes a ``dbo:OfficeHolder``. Doing the same on the dump itself gives types
that need no DBpedia download and are in sync with the dump.

- `load_infobox_mappings(path)` parses the export into `InfoboxMappings`
  (template name -> class, conditional rules, mapping-wiki redirects).
- `infobox_types(wikitext, mappings)` returns the classes of an article.
- `InfoboxTypeSource(...).write(dump_paths, output)` writes an N-Triples type
  file that `TypeIndex.build` reads like DBpedia's instance-types files.
- `infobox_agreement(...)` measures agreement with an instance-types file.
- `write_infobox_types(...)` and `agreement_with_instance_types(...)` do both from
  files (``nerbert labels infobox-types`` / ``infobox-agreement``).

Precedence when merged with instance-types files: instance types first, the
infobox fills the gaps (`InfoboxTypeSource.write(..., skip_typed=index)`),
see docs/beyond.md for the reasons and the measured agreement.
"""
import bz2
import contextlib
import html
import re
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import mwparserfromhell

from ..errors import NerbertError, require_file
from ..util import atomic_path

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DBR = "http://dbpedia.org/resource/"
DBO = "http://dbpedia.org/ontology/"

_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_NOWIKI_RE = re.compile(r"<(nowiki|pre|math|source|syntaxhighlight)\b[^>]*?(?:/>|>.*?(?:</\1\s*>|\Z))", re.S | re.I)
_TEMPLATE_START_RE = re.compile(r"\{\{(?!\{)\s*([^{}|<>\[\]\n]*)")
_BRACES_RE = re.compile(r"\{\{|\}\}")
_SPACE_RE = re.compile(r"[\s_]+")
_TEMPLATE_PREFIX_RE = re.compile(r"^\s*(?:template|msg)\s*:\s*", re.I)
_REDIRECT_RE = re.compile(r"^\s*#\s*redirect\s*:?\s*\[\[([^\]|#]+)", re.I)
_MAPPING_TITLE_RE = re.compile(r"^Mapping [a-z-]+\s*:\s*", re.I)


def normalize_template_name(name: str) -> str:
    """Normalise a template name the way MediaWiki resolves it: comments removed,
    ``Template:`` prefix dropped, underscores and runs of whitespace as one
    space, first letter upper-cased ("template:infobox_Settlement " ->
    "Infobox Settlement").

    name (str): The raw name (as written in ``{{...}}`` or a page title).
    RETURNS (str): The normalised name ("" for none).
    """
    name = _COMMENT_RE.sub("", str(name))
    name = html.unescape(name)
    name = _TEMPLATE_PREFIX_RE.sub("", name)
    name = _SPACE_RE.sub(" ", name).strip()
    if not name:
        return ""
    return name[0].upper() + name[1:]


@dataclass
class Condition:
    """One case of a DBpedia ``ConditionalMapping``: ``templateProperty`` /
    ``operator`` (equals, contains, isSet, otherwise) / ``value`` -> class."""

    operator: str
    cls: Optional[str]
    prop: Optional[str] = None
    value: str = ""

    def matches(self, params: Dict[str, str]) -> bool:
        """Evaluate the condition on a template's parameters (plain text values),
        case-insensitively like DBpedia's extraction framework.

        params (Dict[str, str]): Parameter name -> plain-text value.
        RETURNS (bool): Whether the case applies.
        """
        if self.operator == "otherwise":
            return True
        if self.prop is None or self.prop not in params:
            return False
        text = params[self.prop].strip().lower()
        value = self.value.strip().lower()
        if self.operator == "isSet":
            return bool(text)
        if self.operator == "equals":
            return text == value
        if self.operator == "contains":
            return value in text
        if self.operator == "startsWith":
            return text.startswith(value)
        return False


@dataclass
class InfoboxMappings:
    """DBpedia infobox mappings: template -> class, with conditional rules.

    classes (Dict[str, str]): Normalised template name -> ontology class (local name).
    conditional (Dict[str, List[Condition]]): Template -> ordered cases (first match wins).
    redirects (Dict[str, str]): Mapping-wiki redirects, template -> template.
    stats (Dict[str, Any]): Counts from parsing (pages, templates, skipped with reasons).
    """

    classes: Dict[str, str] = field(default_factory=dict)
    conditional: Dict[str, List[Condition]] = field(default_factory=dict)
    redirects: Dict[str, str] = field(default_factory=dict)
    stats: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lower: Dict[str, str] = {}
        self._index()

    def _index(self) -> None:
        self._lower = {}
        for name in [*self.classes, *self.conditional, *self.redirects]:
            self._lower.setdefault(name.lower(), name)

    def __len__(self) -> int:
        return len(self.classes) + len(self.conditional)

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) is not None

    def resolve(
        self,
        name: str,
        template_redirects: Optional[Dict[str, str]] = None,
        case_insensitive: bool = True,
    ) -> Optional[str]:
        """The mapped template a (raw or normalised) name stands for, following
        wiki template redirects and the mapping wiki's own redirects; None if unmapped.

        name (str): Template name as written in an article.
        template_redirects (Dict[str, str]): Wikipedia template redirects (normalised names).
        case_insensitive (bool): Fall back to a case-insensitive match (Wikipedia has
            redirects for most case variants, e.g. "Infobox Settlement").
        RETURNS (Optional[str]): The normalised template name with a mapping.
        """
        n = normalize_template_name(name)
        seen = set()
        while n and n not in seen:
            seen.add(n)
            if n in self.classes or n in self.conditional:
                return n
            if n in self.redirects:
                n = self.redirects[n]
                continue
            if template_redirects and n in template_redirects:
                n = normalize_template_name(template_redirects[n])
                continue
            if case_insensitive and n.lower() in self._lower:
                n = self._lower[n.lower()]
                continue
            return None
        return None

    def class_for(self, name: str, params: Optional[Dict[str, str]] = None, **kwargs: Any) -> Optional[str]:
        """The class a template use maps to (evaluating conditional mappings).

        name (str): Template name.
        params (Dict[str, str]): Its parameters (plain text), for conditional mappings.
        RETURNS (Optional[str]): Ontology class local name, or None.
        """
        n = self.resolve(name, **kwargs)
        if n is None:
            return None
        if n in self.classes:
            return self.classes[n]
        for case in self.conditional[n]:
            if case.matches(params or {}):
                return case.cls
        return None

    def to_dict(self) -> Dict[str, Any]:
        """JSON-able view: ``{"templates": {name: class}, "conditional": {...}, "redirects": {...}}``."""
        return {
            "templates": dict(self.classes),
            "conditional": {
                t: [{"property": c.prop, "operator": c.operator, "value": c.value, "class": c.cls} for c in cases]
                for t, cases in self.conditional.items()
            },
            "redirects": dict(self.redirects),
        }


def _open_text(path: Path):
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _iter_export_pages(path: Path) -> Iterator[Tuple[str, str]]:
    """(title, text) of every page of a MediaWiki XML export (namespace-agnostic)."""
    with _open_text(path) as fh:
        title, text = None, None
        try:
            for event, elem in ET.iterparse(fh, events=("end",)):
                tag = elem.tag.rsplit("}", 1)[-1]
                if tag == "title":
                    title = elem.text or ""
                elif tag == "text":
                    text = elem.text or ""
                elif tag == "page":
                    if title is not None:
                        yield title, text or ""
                    title, text = None, None
                    elem.clear()
        except ET.ParseError as err:
            raise NerbertError(f"malformed XML after page '{title}': {err}", path)
        except (OSError, EOFError) as err:
            raise NerbertError(f"cannot read file (truncated?) after page '{title}': {err}", path)


def _param_text(value: Any) -> str:
    return _COMMENT_RE.sub("", str(value)).strip()


def _mapping_class(tpl: Any) -> Optional[str]:
    if not tpl.has("mapToClass"):
        return None
    cls = _param_text(tpl.get("mapToClass").value)
    if cls.startswith("dbo:"):
        cls = cls[4:]
    return cls or None


def _template_params(tpl: Any) -> Dict[str, str]:
    params: Dict[str, str] = {}
    for p in tpl.params:
        key = _param_text(p.name)
        try:
            val = p.value.strip_code(normalize=True, collapse=True)
        except Exception:  # pragma: no cover - defensive; strip_code is robust
            val = str(p.value)
        params.setdefault(key, _COMMENT_RE.sub("", str(val)).strip())
    return params


def _parse_conditions(tpl: Any, page: str, stats: Counter) -> List[Condition]:
    cases: List[Condition] = []
    if not tpl.has("cases"):
        return cases
    for cond in tpl.get("cases").value.filter_templates(recursive=False):
        if normalize_template_name(cond.name) != "Condition":
            continue
        op = _param_text(cond.get("operator").value) if cond.has("operator") else "otherwise"
        prop = _param_text(cond.get("templateProperty").value) if cond.has("templateProperty") else None
        value = _param_text(cond.get("value").value) if cond.has("value") else ""
        cls = None
        if cond.has("mapping"):
            for inner in cond.get("mapping").value.filter_templates(recursive=False):
                if normalize_template_name(inner.name) == "TemplateMapping":
                    cls = _mapping_class(inner)
                    break
        if op not in ("equals", "contains", "isSet", "otherwise", "startsWith"):
            stats["unknown_condition_operator"] += 1
            continue
        if cls in (None, "owl:Thing"):
            stats["condition_without_class"] += 1
            cls = None
        cases.append(Condition(operator=op, cls=cls, prop=prop, value=value))
    return cases


def load_infobox_mappings(path: Union[str, Path]) -> InfoboxMappings:
    """Parse DBpedia's mappings-wiki export (``Mapping_en.xml``, plain or .bz2).

    Pages titled ``Mapping <lang>:<Template>`` with a ``TemplateMapping`` give
    ``template -> mapToClass``; a ``ConditionalMapping`` gives its ordered
    cases (``otherwise`` is the default); ``#REDIRECT`` pages become template
    aliases. ``TableMapping`` pages (wiki tables, not infoboxes), mappings to
    ``owl:Thing`` and pages without a mapping are counted in ``stats``.

    path (str | Path): The export file.
    RETURNS (InfoboxMappings): The mappings.
    """
    p = require_file(path, "DBpedia mappings file")
    stats: Counter = Counter()
    result = InfoboxMappings()
    redirects: Dict[str, str] = {}
    for title, text in _iter_export_pages(p):
        stats["pages"] += 1
        if not _MAPPING_TITLE_RE.match(title):
            stats["skipped_not_a_mapping_page"] += 1
            continue
        template = normalize_template_name(_MAPPING_TITLE_RE.sub("", title))
        m = _REDIRECT_RE.match(text)
        if m:
            redirects[template] = normalize_template_name(_MAPPING_TITLE_RE.sub("", m.group(1)))
            stats["redirects"] += 1
            continue
        try:
            code = mwparserfromhell.parse(text)
        except Exception as err:  # pragma: no cover - the parser rarely fails
            raise NerbertError(f"cannot parse mapping wikitext: {err}", p, where=f"page '{title}'")
        top = None
        for tpl in code.filter_templates(recursive=False):
            kind = normalize_template_name(tpl.name)
            if kind in ("TemplateMapping", "ConditionalMapping", "TableMapping"):
                top = (kind, tpl)
                break
        if top is None:
            stats["skipped_no_mapping"] += 1
            continue
        kind, tpl = top
        if kind == "TableMapping":
            stats["skipped_table_mapping"] += 1
            continue
        if kind == "TemplateMapping":
            cls = _mapping_class(tpl)
            if cls is None or cls == "owl:Thing":
                stats["skipped_no_class"] += 1
                continue
            result.classes[template] = cls
            stats["template_mappings"] += 1
        else:
            cases = _parse_conditions(tpl, title, stats)
            if not any(c.cls for c in cases):
                stats["skipped_no_class"] += 1
                continue
            result.conditional[template] = cases
            stats["conditional_mappings"] += 1
    # keep only redirects that lead to a mapping
    for src, dst in redirects.items():
        if src not in result.classes and src not in result.conditional:
            result.redirects[src] = dst
    result._index()
    dangling = [s for s in result.redirects if result.resolve(s, case_insensitive=False) is None]
    for s in dangling:
        del result.redirects[s]
    stats["skipped_dangling_redirect"] = len(dangling)
    stats["templates"] = len(result.classes) + len(result.conditional) + len(result.redirects)
    result.stats = dict(stats)
    result._index()
    if not len(result):
        raise NerbertError("no TemplateMapping / ConditionalMapping pages found; is this DBpedia's mappings export?", p)
    return result


# --- typing an article ----------------------------------------------------------


def _clean_wikitext(wikitext: str) -> str:
    return _NOWIKI_RE.sub("", _COMMENT_RE.sub("", wikitext))


def _balanced_end(text: str, start: int) -> int:
    """End offset of the ``{{...}}`` starting at ``start``, or -1 if unclosed."""
    depth = 0
    for m in _BRACES_RE.finditer(text, start):
        if m.group() == "{{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return m.end()
    return -1


def iter_mapped_templates(
    wikitext: str,
    mappings: InfoboxMappings,
    *,
    fast: bool = True,
    template_redirects: Optional[Dict[str, str]] = None,
    case_insensitive: bool = True,
    stats: Optional[Counter] = None,
) -> Iterator[Tuple[str, Optional[str]]]:
    """(mapped template name, class or None) for each use of a mapped template,
    in document order (nested templates included, comments ignored).

    fast=True scans names with a regular expression and hands only the mapped
    templates to mwparserfromhell (fast on whole dumps); fast=False parses the
    whole article with mwparserfromhell (the reference; same results on the
    test dumps).

    wikitext (str): The article's wikitext.
    mappings (InfoboxMappings): The mappings.
    fast (bool): See above.
    template_redirects (Dict[str, str]): Wikipedia template redirects.
    case_insensitive (bool): See `InfoboxMappings.resolve`.
    stats (Counter): Optional counters (templates_seen, templates_mapped, ...).
    YIELDS (Tuple[str, Optional[str]]): (template, class).
    """
    kw = {"template_redirects": template_redirects, "case_insensitive": case_insensitive}
    stats = stats if stats is not None else Counter()
    if not fast:
        for tpl in mwparserfromhell.parse(wikitext).filter_templates(recursive=True):
            raw = str(tpl.name)
            stats["templates_seen"] += 1
            name = mappings.resolve(raw, **kw)
            if name is None:
                continue
            stats["templates_mapped"] += 1
            yield name, mappings.class_for(name, _template_params(tpl) if name in mappings.conditional else None, **kw)
        return
    text = _clean_wikitext(wikitext)
    for m in _TEMPLATE_START_RE.finditer(text):
        stats["templates_seen"] += 1
        name = mappings.resolve(m.group(1), **kw)
        if name is None:
            continue
        end = _balanced_end(text, m.start())
        if end < 0:
            stats["templates_unclosed"] += 1
            continue
        stats["templates_mapped"] += 1
        params = None
        if name in mappings.conditional:
            tpls = mwparserfromhell.parse(text[m.start() : end]).filter_templates(recursive=False)
            params = _template_params(tpls[0]) if tpls else {}
        yield name, mappings.class_for(name, params, **kw)


def page_classes(classes: Sequence[str], ontology: Any = None) -> List[str]:
    """The classes of the article itself from the classes of its mapped
    templates, as DBpedia's extraction does: the first mapped template types
    the page; a later template adds its class only when it is a subclass of the
    page's current class (it specialises it); an ancestor adds nothing and an
    unrelated class (an embedded or secondary infobox about something else) is
    not the page's type. Without an ontology only the first class is kept.

    classes (Sequence[str]): Classes of the mapped templates, in document order.
    ontology (Ontology): The DBpedia Ontology, or None.
    RETURNS (List[str]): The page's classes, most specific last.
    """
    out: List[str] = []
    for cls in classes:
        if not cls or cls in out:
            continue
        if not out:
            out.append(cls)
            continue
        if ontology is None:
            break
        try:
            ancestors = ontology.ancestors(cls)
        except Exception:
            ancestors = []
        if out[-1] in ancestors:
            out.append(cls)
    return out


def infobox_types(
    wikitext: str,
    mappings: InfoboxMappings,
    ontology: Any = None,
    *,
    fast: bool = True,
    template_redirects: Optional[Dict[str, str]] = None,
    case_insensitive: bool = True,
    stats: Optional[Counter] = None,
) -> List[str]:
    """The DBpedia classes of an article, from its infobox (and other mapped)
    templates: ``"{{Infobox officeholder | name = X}}..."`` -> ``["OfficeHolder"]``.

    wikitext (str): The article's wikitext.
    mappings (InfoboxMappings): From `load_infobox_mappings`.
    ontology (Ontology): For combining several templates (see `page_classes`).
    fast (bool): See `iter_mapped_templates`.
    template_redirects (Dict[str, str]): Wikipedia template redirects (normalised names).
    case_insensitive (bool): See `InfoboxMappings.resolve`.
    stats (Counter): Optional counters.
    RETURNS (List[str]): Class local names (most specific last), [] if none.
    """
    found = [
        cls
        for _, cls in iter_mapped_templates(
            wikitext,
            mappings,
            fast=fast,
            template_redirects=template_redirects,
            case_insensitive=case_insensitive,
            stats=stats,
        )
        if cls
    ]
    return page_classes(found, ontology)


def resource_iri(title: str) -> str:
    """DBpedia resource IRI of a (normalised) title: spaces as underscores,
    characters not allowed in N-Triples IRIs (and ``%``) percent-encoded.

    title (str): The article title.
    RETURNS (str): The IRI.
    """
    return DBR + _iri_escape(title.replace(" ", "_"))


def _iri_escape(s: str) -> str:
    out = []
    for ch in s:
        if ch in '<>"{}|\\^`%' or ord(ch) <= 0x20:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf8")))
        else:
            out.append(ch)
    return "".join(out)


def type_triple(title: str, cls: str) -> str:
    """One N-Triples line ``<dbr:Title> rdf:type <dbo:Class> .``."""
    return f"<{resource_iri(title)}> <{RDF_TYPE}> <{DBO}{cls}> .\n"


class InfoboxTypeSource:
    """Types every article of a Wikipedia dump from its infobox templates and
    writes them as an N-Triples type file for `TypeIndex.build`.

    mappings (InfoboxMappings | str | Path): Mappings or the path of ``Mapping_en.xml``.
    ontology (Ontology): DBpedia Ontology (combines several templates per page; classes
        the ontology does not know are counted and dropped).
    template_redirects (Dict[str, str]): Wikipedia template redirects (normalised names,
        without "Template:"); see `template_redirects_from_dump`.
    case_insensitive (bool): See `InfoboxMappings.resolve`.
    fast (bool): See `iter_mapped_templates`.
    """

    def __init__(
        self,
        mappings: Union[InfoboxMappings, str, Path],
        ontology: Any = None,
        *,
        template_redirects: Optional[Dict[str, str]] = None,
        case_insensitive: bool = True,
        fast: bool = True,
    ) -> None:
        self.mappings = mappings if isinstance(mappings, InfoboxMappings) else load_infobox_mappings(mappings)
        self.ontology = ontology
        self.template_redirects = template_redirects or {}
        self.case_insensitive = case_insensitive
        self.fast = fast
        self.stats: Counter = Counter()

    def page_types(self, wikitext: str) -> List[str]:
        """Classes of one article (see `infobox_types`); unknown classes dropped.

        wikitext (str): The article's wikitext.
        RETURNS (List[str]): The classes.
        """
        classes = infobox_types(
            wikitext,
            self.mappings,
            self.ontology,
            fast=self.fast,
            template_redirects=self.template_redirects,
            case_insensitive=self.case_insensitive,
            stats=self.stats,
        )
        if self.ontology is not None:
            known = [c for c in classes if c in self.ontology.classes]
            self.stats["classes_not_in_ontology"] += len(classes) - len(known)
            classes = known
        return classes

    def iter_types(self, dump_paths: Iterable[Union[str, Path]], *, dump_stats: Any = None) -> Iterator[Tuple[str, List[str]]]:
        """(title, classes) for every article of the dumps that gets a class.

        dump_paths (Iterable[str | Path]): Wikipedia pages-articles dumps.
        dump_stats (DumpStats): Optional counters for the dump reader.
        YIELDS (Tuple[str, List[str]]): Normalised title and its classes.
        """
        from ..wikipedia.dump import DumpStats, iter_pages

        dstats = dump_stats if dump_stats is not None else DumpStats()
        for path in dump_paths:
            for page in iter_pages(path, stats=dstats, namespaces=(0,), include_redirects=False, skip_disambiguation=True):
                if page.redirect:
                    continue
                self.stats["articles"] += 1
                classes = self.page_types(page.text)
                if classes:
                    self.stats["articles_typed"] += 1
                    yield page.title, classes
        self.stats["dump_errors"] = len(getattr(dstats, "errors", []) or [])
        self._dump_errors = list(getattr(dstats, "errors", []) or [])[:20]

    def write(
        self,
        dump_paths: Iterable[Union[str, Path]],
        output: Union[str, Path],
        *,
        skip_typed: Any = None,
    ) -> Dict[str, Any]:
        """Write ``<dbr:Title> rdf:type <dbo:Class> .`` for every typed article.

        dump_paths (Iterable[str | Path]): Wikipedia dumps.
        output (str | Path): The N-Triples file (plain, or bz2 when it ends in .bz2).
        skip_typed (TypeIndex): If given, articles this index already types are left
            out (instance types first, infobox fills the gaps); counted in the stats.
        RETURNS (Dict[str, Any]): Counts (articles, articles_typed, triples, ...).
        """
        out = Path(output)
        self.stats = Counter()
        with atomic_path(out) as tmp:
            opener = bz2.open if out.suffix == ".bz2" else open
            with opener(tmp, "wt", encoding="utf8") as fh:
                for title, classes in self.iter_types(dump_paths):
                    if skip_typed is not None and skip_typed.classes(title):
                        self.stats["skipped_already_typed"] += 1
                        continue
                    self.stats["entities_written"] += 1
                    for cls in classes:
                        fh.write(type_triple(title, cls))
                        self.stats["triples"] += 1
        result: Dict[str, Any] = dict(self.stats)
        result["errors"] = getattr(self, "_dump_errors", [])
        return result


def template_redirects_from_dump(dump_paths: Iterable[Union[str, Path]]) -> Dict[str, str]:
    """Wikipedia template redirects (``Template:Infobox Politician`` ->
    ``Infobox officeholder``) read from the Template namespace (10) of dumps.

    dump_paths (Iterable[str | Path]): Dumps (a full pages-articles dump has them).
    RETURNS (Dict[str, str]): Normalised template name -> normalised target.
    """
    from ..wikipedia.dump import iter_pages

    out: Dict[str, str] = {}
    for path in dump_paths:
        for page in iter_pages(path, namespaces=(10,), include_redirects=True, skip_disambiguation=False):
            if page.redirect:
                out[normalize_template_name(page.title)] = normalize_template_name(page.redirect)
    return out


# --- agreement with instance types ------------------------------------------------


def _lineage(cls: str, ontology: Any) -> List[str]:
    try:
        return [cls, *ontology.ancestors(cls)]
    except Exception:
        return [cls]


def most_specific(classes: Sequence[str], ontology: Any = None) -> Optional[str]:
    """The deepest of several classes (first on ties); None for none."""
    if not classes:
        return None
    if ontology is None:
        return classes[-1]
    best, best_depth = None, -1
    for c in classes:
        try:
            d = ontology.depth(c)
        except Exception:
            d = 0
        if d > best_depth:
            best, best_depth = c, d
    return best


def compare_types(infobox: Sequence[str], reference: Sequence[str], ontology: Any) -> str:
    """Compare an article's infobox classes with its reference (instance-types)
    classes. The infobox's most specific class is compared with each reference
    class (a reference may list several classes that are not on one line of
    descent, e.g. OfficeHolder and Politician from merged sources).

    infobox (Sequence[str]): The infobox classes.
    reference (Sequence[str]): The reference classes.
    ontology (Ontology): For ancestors and depths.
    RETURNS (str): "exact" (the class is among the reference classes),
        "infobox_more_specific" (a reference class is an ancestor of it),
        "infobox_less_specific" (it is an ancestor of a reference class), or "conflict".
    """
    a = most_specific(infobox, ontology)
    if a in reference:
        return "exact"
    lineage = _lineage(a, ontology)
    if any(r in lineage for r in reference):
        return "infobox_more_specific"
    if any(a in _lineage(r, ontology) for r in reference):
        return "infobox_less_specific"
    return "conflict"


def infobox_agreement(
    source: InfoboxTypeSource,
    dump_paths: Sequence[Union[str, Path]],
    reference: Any,
    *,
    examples: int = 10,
) -> Dict[str, Any]:
    """Agreement of infobox types with an instance-types `TypeIndex` on the
    articles both type.

    source (InfoboxTypeSource): The infobox typer (with an ontology).
    dump_paths (Sequence[str | Path]): Wikipedia dumps.
    reference (TypeIndex): The instance types (anything with ``classes(title)``).
    examples (int): How many disagreeing articles to list.
    RETURNS (Dict[str, Any]): Per dump and in total: articles, typed by infobox, typed by
        reference, both, exact, up_to_ancestors (exact + one is an ancestor of the other),
        the breakdown, and example conflicts.
    """
    from ..wikipedia.dump import DumpStats, iter_pages

    ontology = source.ontology
    per_dump: Dict[str, Dict[str, Any]] = {}
    total: Counter = Counter()
    conflicts: List[Dict[str, Any]] = []
    for path in dump_paths:
        c: Counter = Counter()
        source.stats = Counter()
        dstats = DumpStats()
        for page in iter_pages(path, stats=dstats, namespaces=(0,), include_redirects=False, skip_disambiguation=True):
            if page.redirect:
                continue
            c["articles"] += 1
            ib = source.page_types(page.text)
            ref = list(reference.classes(page.title))
            if ontology is not None:
                ref = [r for r in ref if r in ontology.classes]
            c["infobox_typed"] += bool(ib)
            c["reference_typed"] += bool(ref)
            if not (ib and ref):
                continue
            c["both"] += 1
            verdict = compare_types(ib, ref, ontology)
            c[verdict] += 1
            if verdict != "exact" and len(conflicts) < examples:
                conflicts.append({"title": page.title, "verdict": verdict, "infobox": ib, "reference": ref})
        c["dump_errors"] = len(dstats.errors)
        per_dump[Path(path).name] = _finish(c)
        total.update(c)
    return {"dumps": per_dump, "total": _finish(total), "disagreement_examples": conflicts}


def _finish(c: Counter) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        k: int(c.get(k, 0))
        for k in (
            "articles",
            "infobox_typed",
            "reference_typed",
            "both",
            "exact",
            "infobox_more_specific",
            "infobox_less_specific",
            "conflict",
            "dump_errors",
        )
    }
    both = out["both"]
    up = out["exact"] + out["infobox_more_specific"] + out["infobox_less_specific"]
    out["up_to_ancestors"] = up
    out["exact_rate"] = round(out["exact"] / both, 4) if both else None
    out["up_to_ancestors_rate"] = round(up / both, 4) if both else None
    return out


# --- the steps from files: type file, agreement ------------------------------------


@contextlib.contextmanager
def temporary_type_index(type_files: Sequence[Union[str, Path]]) -> Iterator[Any]:
    """A `TypeIndex` of ``type_files`` built in a temporary folder, removed on exit.

    type_files (Sequence[str | Path]): Instance-types files (N-Triples/Turtle, plain or .bz2).
    YIELDS (TypeIndex): The index.
    """
    from .types import TypeIndex

    with tempfile.TemporaryDirectory(prefix="nerbert-types-") as tmp:
        yield TypeIndex.build(list(type_files), Path(tmp) / "types.index")


def write_infobox_types(
    dump_paths: Sequence[Union[str, Path]],
    mappings: Union[InfoboxMappings, str, Path],
    output: Union[str, Path],
    *,
    ontology: Any = None,
    instance_types: Optional[Sequence[Union[str, Path]]] = None,
    case_insensitive: bool = True,
    template_redirects: bool = False,
    progress: Optional[Callable[[str], Any]] = None,
) -> Dict[str, Any]:
    """Type the articles of dumps from their infobox templates and write the N-Triples
    type file (see `InfoboxTypeSource.write`).

    dump_paths (Sequence[str | Path]): Wikipedia pages-articles dumps.
    mappings (InfoboxMappings | str | Path): Mappings or the path of ``Mapping_en.xml``.
    output (str | Path): The N-Triples file (bz2 when it ends in .bz2).
    ontology (Ontology): DBpedia Ontology (optional, recommended).
    instance_types (Sequence[str | Path]): Instance-types files that take precedence:
        articles they type are left out (a temporary `TypeIndex` of them is built).
    case_insensitive (bool): See `InfoboxMappings.resolve`.
    template_redirects (bool): First read the Template: redirects of the dumps
        (`template_redirects_from_dump`).
    progress (Callable[[str], Any]): Told how many template redirects were read, before the
        articles are typed.
    RETURNS (Dict[str, Any]): The counts of `InfoboxTypeSource.write` (with ``errors``).
    """
    dumps = list(dump_paths)
    redirects = template_redirects_from_dump(dumps) if template_redirects else None
    if redirects is not None and progress is not None:
        progress(f"{len(redirects)} template redirects")
    source = InfoboxTypeSource(mappings, ontology, case_insensitive=case_insensitive, template_redirects=redirects)
    if instance_types:
        with temporary_type_index(instance_types) as index:
            return source.write(dumps, output, skip_typed=index)
    return source.write(dumps, output)


def agreement_with_instance_types(
    dump_paths: Sequence[Union[str, Path]],
    mappings: Union[InfoboxMappings, str, Path],
    instance_types: Sequence[Union[str, Path]],
    ontology: Any,
) -> Dict[str, Any]:
    """`infobox_agreement` of the dumps' infobox types with instance-types files.

    dump_paths (Sequence[str | Path]): Wikipedia dumps.
    mappings (InfoboxMappings | str | Path): Mappings or the path of ``Mapping_en.xml``.
    instance_types (Sequence[str | Path]): The reference instance-types files.
    ontology (Ontology): DBpedia Ontology.
    RETURNS (Dict[str, Any]): See `infobox_agreement`.
    """
    source = InfoboxTypeSource(mappings, ontology)
    with temporary_type_index(instance_types) as index:
        return infobox_agreement(source, list(dump_paths), index)

"""Stream pages from a MediaWiki XML export (pages-articles dump).

Reads ``.xml``, ``.xml.bz2`` and multistream ``.bz2`` files (all streams in
one pass), or one block of a multistream dump by byte offset (see
:func:`read_multistream_index`), so workers can read blocks independently.
Tags are matched by local name, so export schema versions 0.3-0.11 (any XML
namespace, or none, as in the page blocks of a multistream dump) all work.
Memory stays flat: bytes are fed to an incremental parser in 1 MiB chunks and
every finished ``<page>`` element is cleared.

Bad input never raises mid-stream: a page with invalid UTF-8 bytes (or
another per-page problem) is counted in ``stats.bad_pages`` and skipped; a
truncated ``.bz2`` or malformed XML stops that file with a message in
``stats.errors``; the pages read before are kept. A missing file raises
:class:`~nerbert_spacy.errors.NerbertError`.
"""

import bz2
import codecs
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from ..errors import NerbertError, require_file
from .wikitext import normalize_title

__all__ = [
    "Page",
    "DumpStats",
    "iter_pages",
    "iter_block_pages",
    "read_multistream_index",
    "collect_redirects",
    "iter_redirects",
    "is_disambiguation",
    "DISAMBIGUATION_TEMPLATES",
]

PathLike = Union[str, Path]
CHUNK = 1 << 20
MAX_ERROR_MESSAGES = 200


@dataclass
class Page:
    """One page of a dump. ``redirect`` is the normalised target title, or None."""

    title: str
    ns: int
    page_id: int
    text: str
    redirect: Optional[str] = None


@dataclass
class DumpStats:
    """Counters filled while streaming (JSON-able via :meth:`to_dict`).

    pages: every ``<page>`` seen; articles: pages yielded; redirects,
    disambiguation, other_namespace: pages not yielded for that reason;
    bad_pages: pages skipped because they were broken; errors: one line per
    problem ("<file> (page 'X'): what is wrong"), at most 200 kept, the rest
    counted in errors_omitted.
    """

    pages: int = 0
    articles: int = 0
    redirects: int = 0
    disambiguation: int = 0
    other_namespace: int = 0
    bad_pages: int = 0
    errors: List[str] = field(default_factory=list)
    errors_omitted: int = 0

    def error(self, message: str) -> None:
        """Record one problem (keeps the first 200 messages, counts the rest)."""
        if len(self.errors) < MAX_ERROR_MESSAGES:
            self.errors.append(message)
        else:
            self.errors_omitted += 1

    def merge(self, other: "DumpStats") -> "DumpStats":
        """Add another stats object's counts and errors to this one (for parallel readers)."""
        for name in (
            "pages",
            "articles",
            "redirects",
            "disambiguation",
            "other_namespace",
            "bad_pages",
            "errors_omitted",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for msg in other.errors:
            self.error(msg)
        return self

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The counters and error lines."""
        return asdict(self)


# --- disambiguation -----------------------------------------------------------
_TEMPLATE_NAME_RE = re.compile(r"\{\{\s*(?:template\s*:\s*)?([^{}|<>\n]+?)\s*(?:\||\}\})", re.IGNORECASE)
_ROOT_TAG_RE = re.compile(r"<mediawiki\b[^>]*>|</mediawiki\s*>")
_REDIRECT_TEXT_RE = re.compile(r"^\s*#\s*redirect\s*:?\s*\[\[([^\]|]+)", re.IGNORECASE)

# Template names (lower case, "_" -> " ") that mark a disambiguation page on the English Wikipedia,
# with their common redirects. Any template whose name ends in " disambiguation" also counts
# ("Human name disambiguation", "Airport disambiguation", ...).
DISAMBIGUATION_TEMPLATES = frozenset(
    """disambiguation disambig disamb disam dab dis hndis hndab hndisambig geodis geo-dis geodab
    numberdis numdis mathdab roaddis hospitaldis schooldis shipindex letter-numbercombdisambig lnd
    callsigndis mil-unit-dis""".split()
) | frozenset(
    [
        "dab page",
        "disambiguation page",
        "disambiguation cleanup",
        "disambig-cleanup",
        "dab cleanup",
        "hn dis",
        "number disambiguation",
        "math dab",
        "road disambiguation",
        "school disambiguation",
        "letter-number combination disambiguation",
        "call sign disambiguation",
    ]
)


def _is_dab_template(name: str) -> bool:
    name = re.sub(r"[\s_]+", " ", name).strip().lower()
    return name in DISAMBIGUATION_TEMPLATES or name.endswith(" disambiguation")


def is_disambiguation(page: Page) -> bool:
    """Whether a page is a disambiguation page.

    True for a title ending in "(disambiguation)", the magic word
    ``__DISAMBIG__``, or a disambiguation template (``{{disambiguation}}``,
    ``{{dab}}``, ``{{disambig}}``, ``{{hndis}}``, ``{{geodis}}``, ... and any
    ``{{... disambiguation}}``).

    page (Page): The page.
    RETURNS (bool): Whether it is a disambiguation page.
    """
    if page.title.rstrip().lower().endswith("(disambiguation)"):
        return True
    text = page.text or ""
    if "__DISAMBIG__" in text:
        return True
    if "{{" not in text:
        return False
    lower = text.lower()
    if "dis" not in lower and "dab" not in lower and "shipindex" not in lower and "lnd" not in lower:
        return False
    for m in _TEMPLATE_NAME_RE.finditer(text):
        if _is_dab_template(m.group(1)):
            return True
    return False


# --- byte sources ---------------------------------------------------------------
class _Truncated(Exception):
    pass


def _is_bz2(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == b"BZh"


def _file_chunks(path: Path) -> Iterator[bytes]:
    """Raw (decompressed) bytes of a whole file in chunks; raises _Truncated on a broken .bz2."""
    if _is_bz2(path):
        f: BinaryIO = bz2.open(path, "rb")  # reads all streams of a multistream file
    else:
        f = open(path, "rb")
    with f:
        while True:
            try:
                data = f.read(CHUNK)
            except EOFError as e:
                raise _Truncated(f"truncated .bz2 ({e})") from None
            except OSError as e:
                raise _Truncated(f"corrupt .bz2 data ({e})") from None
            if not data:
                return
            yield data


def _block_chunks(path: Path, offset: int, length: int) -> Iterator[bytes]:
    """Decompressed bytes of the bz2 stream(s) in ``[offset, offset + length)`` (-1: the one stream at offset)."""
    with open(path, "rb") as f:
        f.seek(offset)
        remaining = length if length >= 0 else None
        dec = bz2.BZ2Decompressor()
        while True:
            size = CHUNK if remaining is None else min(CHUNK, remaining)
            raw = f.read(size) if size > 0 else b""
            if remaining is not None:
                remaining -= len(raw)
            if not raw:
                if not dec.eof:
                    raise _Truncated("truncated .bz2 block")
                return
            while raw:
                try:
                    out = dec.decompress(raw)
                except OSError as e:
                    raise _Truncated(f"corrupt .bz2 block at byte offset {offset} ({e})") from None
                if out:
                    yield out
                if dec.eof:
                    raw = dec.unused_data
                    if length < 0 or not raw:
                        if length < 0:
                            return
                        break
                    dec = bz2.BZ2Decompressor()  # a block of several streams
                else:
                    raw = b""


# --- parsing --------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag[:1] == "{" else tag


def _child(elem: ET.Element, name: str) -> Optional[ET.Element]:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _page_from_elem(elem: ET.Element, ns_prefixes: Dict[str, int]) -> Page:
    title = ""
    ns: Optional[int] = None
    page_id = 0
    redirect: Optional[str] = None
    text = ""
    for c in elem:
        name = _local(c.tag)
        if name == "title":
            title = (c.text or "").strip()
        elif name == "ns":
            ns = int((c.text or "0").strip())
        elif name == "id":
            page_id = int((c.text or "0").strip())
        elif name == "redirect":
            target = c.get("title")
            if target is not None:
                redirect = normalize_title(target)
        elif name == "revision":
            t = _child(c, "text")
            if t is not None:
                text = t.text or ""
    if ns is None:  # export 0.3-0.4: no <ns>; infer it from the title prefix
        prefix, sep, _ = title.partition(":")
        ns = ns_prefixes.get(prefix.strip().lower(), 0) if sep else 0
    if redirect is None:
        m = _REDIRECT_TEXT_RE.match(text)
        if m:
            redirect = normalize_title(m.group(1))
    return Page(title=title, ns=ns, page_id=page_id, text=text, redirect=redirect)


def _parse_pages(
    chunks: Iterable[bytes],
    source: str,
    stats: DumpStats,
    *,
    wrap: bool = False,
) -> Iterator[Page]:
    """Parse <page> elements from a byte-chunk stream; record errors in ``stats`` and stop on fatal ones."""
    parser = ET.XMLPullParser(events=("start", "end"))
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    ns_prefixes: Dict[str, int] = {}
    stack_root: Optional[ET.Element] = None
    depth = 0
    last_title: Optional[str] = None
    # Invalid UTF-8 bytes become U+FFFD; ``bad`` counts them (U+FFFD that were
    # in the input as valid UTF-8 are not counted), ``accounted`` those already
    # blamed on a skipped page.
    bad = 0
    accounted = 0
    carry = ""

    def where() -> str:
        read = stats.pages - pages_before
        if last_title is None:
            return "before the first page" if not read else f"after {read} pages"
        return f"after {read} page{'s' if read != 1 else ''} (the last: page '{last_title}')"

    pages_before = stats.pages
    if wrap:
        parser.feed("<mediawiki>")
    try:
        chunk_iter = iter(chunks)
        done = False
        while not done:
            try:
                data = next(chunk_iter)
            except StopIteration:
                done = True
                text = decoder.decode(b"", final=True)
                bad += text.count("\ufffd")
            else:
                text = decoder.decode(data)
                if "\ufffd" in text:
                    bad += text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
            if wrap:
                # a block holds only <page> elements; drop the dump's own root tags if the block has
                # them (keeping a short tail back so a tag split between chunks is still seen)
                text = _ROOT_TAG_RE.sub("", carry + text)
                if done:
                    text += "</mediawiki>"
                    carry = ""
                else:
                    cut = text.rfind("<", max(0, len(text) - 20))
                    carry, text = (text[cut:], text[:cut]) if cut >= 0 else ("", text)
            if text:
                parser.feed(text)
            for event, elem in parser.read_events():
                if event == "start":
                    depth += 1
                    if depth == 1:
                        stack_root = elem
                    continue
                depth -= 1
                name = _local(elem.tag)
                if name == "namespace" and elem.get("key") not in (None, "0"):
                    ns_prefixes[(elem.text or "").strip().lower()] = int(elem.get("key"))
                if name != "page":
                    continue
                stats.pages += 1
                try:
                    page = _page_from_elem(elem, ns_prefixes)
                except (ValueError, TypeError) as e:
                    stats.bad_pages += 1
                    title = (_child(elem, "title").text or "") if _child(elem, "title") is not None else "?"
                    stats.error(f"{source} (page '{title}'): bad page metadata ({e}); page skipped")
                    page = None
                elem.clear()
                if stack_root is not None:
                    stack_root.clear()  # drop finished pages from the root: memory flat
                if page is None:
                    continue
                last_title = page.title
                pending = bad - accounted
                if pending > 0 and ("\ufffd" in page.text or "\ufffd" in page.title):
                    accounted += min(pending, page.text.count("\ufffd") + page.title.count("\ufffd"))
                    stats.bad_pages += 1
                    stats.error(f"{source} (page '{page.title}'): invalid UTF-8 bytes; page skipped")
                    continue
                yield page
        parser.close()
    except _Truncated as e:
        stats.error(f"{source}: {e} {where()}; the rest of the file is skipped")
    except ET.ParseError as e:
        line, col = getattr(e, "position", (0, 0))
        scope = "block" if wrap else "file"
        loc = f"line {line} of the block" if wrap else f"line {line}"
        stats.error(f"{source} ({loc}): malformed XML ({_parse_msg(e)}) {where()}; the rest of the {scope} is skipped")


def _parse_msg(e: ET.ParseError) -> str:
    return str(e).split(":")[0]


def _filtered(
    pages: Iterator[Page],
    stats: DumpStats,
    namespaces: Optional[Sequence[int]],
    include_redirects: bool,
    skip_disambiguation: bool,
) -> Iterator[Page]:
    wanted = None if namespaces is None else set(namespaces)
    for page in pages:
        if wanted is not None and page.ns not in wanted:
            stats.other_namespace += 1
            continue
        if page.redirect is not None:
            stats.redirects += 1
            if include_redirects:
                yield page
            continue
        if skip_disambiguation and is_disambiguation(page):
            stats.disambiguation += 1
            continue
        stats.articles += 1
        yield page


def iter_pages(
    path: PathLike,
    *,
    stats: Optional[DumpStats] = None,
    namespaces: Optional[Sequence[int]] = (0,),
    include_redirects: bool = False,
    skip_disambiguation: bool = True,
) -> Iterator[Page]:
    """Stream the pages of a dump file.

    path (str | Path): ``.xml``, ``.xml.bz2`` or multistream ``.bz2`` (detected by content).
    stats (Optional[DumpStats]): Counters to update (pass one to read them afterwards).
    namespaces (Optional[Sequence[int]]): Namespaces to yield (None: all).
    include_redirects (bool): Also yield redirect pages (``page.redirect`` set).
    skip_disambiguation (bool): Skip disambiguation pages (see :func:`is_disambiguation`).
    YIELDS (Page): Pages in file order. A truncated .bz2 or malformed XML ends
        the file with a message in ``stats.errors``.
    """
    p = require_file(path, "Wikipedia dump")
    stats = stats if stats is not None else DumpStats()
    pages = _parse_pages(_file_chunks(p), str(p), stats)
    return _filtered(pages, stats, namespaces, include_redirects, skip_disambiguation)


def iter_block_pages(
    dump_path: PathLike,
    offset: int,
    length: int,
    *,
    stats: Optional[DumpStats] = None,
    namespaces: Optional[Sequence[int]] = (0,),
    include_redirects: bool = False,
    skip_disambiguation: bool = True,
) -> Iterator[Page]:
    """Stream the pages of one block of a multistream dump.

    dump_path (str | Path): The multistream ``.bz2`` file.
    offset (int): Byte offset of the block's bz2 stream (from :func:`read_multistream_index`).
    length (int): Byte length of the block, or -1 to read the one stream at ``offset``.
    stats, namespaces, include_redirects, skip_disambiguation: as for :func:`iter_pages`.
    YIELDS (Page): The block's pages.
    """
    p = require_file(dump_path, "Wikipedia multistream dump")
    stats = stats if stats is not None else DumpStats()
    if offset < 0 or offset >= p.stat().st_size:
        raise NerbertError(f"block offset {offset} is outside the file ({p.stat().st_size} bytes)", p)
    source = f"{p} (block at byte {offset})"
    pages = _parse_pages(_block_chunks(p, offset, length), source, stats, wrap=True)
    return _filtered(pages, stats, namespaces, include_redirects, skip_disambiguation)


def read_multistream_index(index_path: PathLike) -> List[Tuple[int, int]]:
    """Read a multistream index into the list of its blocks.

    index_path (str | Path): ``...-multistream-index.txt`` or ``.txt.bz2``; lines
        ``offset:page_id:title``.
    RETURNS (List[Tuple[int, int]]): ``(offset, length)`` of each bz2 stream in
        file order; the last block has length -1 (read to the end of its stream).
    """
    p = require_file(index_path, "multistream index")
    offsets = set()
    opener: Callable[..., Any] = bz2.open if _is_bz2(p) else open
    try:
        with opener(p, "rt", encoding="utf8", errors="strict") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                head = line.split(":", 1)[0]
                if not head.isdigit():
                    raise NerbertError(f"not an 'offset:page_id:title' index line: {line[:80]!r}", p, f"line {lineno}")
                offsets.add(int(head))
    except (EOFError, OSError) as e:
        raise NerbertError(f"cannot read the multistream index (truncated or corrupt .bz2?): {e}", p) from None
    except UnicodeDecodeError as e:
        raise NerbertError(f"the multistream index is not UTF-8 ({e.reason})", p) from None
    ordered = sorted(offsets)
    return [(o, (ordered[i + 1] - o) if i + 1 < len(ordered) else -1) for i, o in enumerate(ordered)]


def iter_redirects(pages: Iterable[Page]) -> Iterator[Tuple[str, str]]:
    """The redirects among some pages, as a dump pass sees them.

    pages (Iterable[Page]): Pages read with ``include_redirects=True``.
    YIELDS (Tuple[str, str]): Normalised redirect title -> normalised target, in page order.
    """
    for page in pages:
        if page.redirect is not None:
            src = normalize_title(page.title)
            if src and page.redirect and src != page.redirect:
                yield src, page.redirect


def collect_redirects(paths: Iterable[PathLike], *, stats: Optional[DumpStats] = None) -> Dict[str, str]:
    """Map every redirect title of the dumps to its target (first pass over the dumps).

    paths (Iterable[str | Path]): Dump files.
    stats (Optional[DumpStats]): Counters to update.
    RETURNS (Dict[str, str]): Normalised redirect title -> normalised target title (main namespace);
        a title redirected twice keeps its last target.
    """
    stats = stats if stats is not None else DumpStats()
    out: Dict[str, str] = {}
    for path in paths:
        out.update(iter_redirects(iter_pages(path, stats=stats, include_redirects=True, skip_disambiguation=False)))
    return out

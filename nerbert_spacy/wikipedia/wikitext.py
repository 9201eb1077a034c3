"""Wikitext -> plain-text paragraphs with anchor spans (mwparserfromhell).

What is kept: running text, the visible text of links (piped text, link
trails such as ``[[dog]]s``), the inner text of formatting tags (``'''``,
``''``, ``<b>``, ``<span>``, ...), the text of a few inline templates that
print their argument (``{{lang|fr|...}}``, ``{{nowrap|...}}``,
``{{convert|5|km}}``, dashes). What is dropped: other templates, ``<ref>``
and other extension tags (``<math>``, ``<gallery>``, ...), tables, files and
images, categories, interlanguage links, comments, headings (they end a
paragraph), list items (by default), the reference-like sections at the end
of an article ("References", "External links", "See also", ...).

Every :class:`Anchor` carries its character span in its paragraph's text
(``text[a.start:a.end] == a.text``) and the normalised title it links to
(:func:`normalize_title`). Links into other namespaces or wikis, and
same-page section links (``[[#History]]``), keep their text but are not
anchors.
"""

import html
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple
from urllib.parse import unquote

from ..errors import NerbertError

__all__ = ["Anchor", "WikitextError", "normalize_title", "wikitext_to_paragraphs"]


@dataclass
class Anchor:
    """A link in a paragraph: ``text[start:end]`` links to the page ``target``."""

    start: int
    end: int
    target: str
    text: str


class WikitextError(NerbertError):
    """mwparserfromhell (or the converter) could not handle a page's wikitext."""

    def __init__(self, message: str, title: str = "", path=None) -> None:
        self.title = title
        super().__init__(message, path, f"page '{title}'" if title and path is not None else None)


# --- titles -----------------------------------------------------------------
_WS_RE = re.compile(r"[\s_]+")
_BIDI_RE = re.compile("[\u200e\u200f\u202a-\u202e]")


def normalize_title(title: str) -> str:
    """Normalise a page title the way MediaWiki resolves links in the main namespace.

    HTML entities unescaped, percent-escapes decoded (DBpedia IRIs,
    ``[[AT%26T]]``), underscores and runs of whitespace -> one space, a
    section part ``#...`` and a leading ``:`` removed, surrounding whitespace
    stripped, first letter upper-cased.

    title (str): A link target, page title or DBpedia resource name.
    RETURNS (str): The normalised title ("" for a same-page link like ``#History``).
    """
    t = title
    if "&" in t:
        t = html.unescape(t)
    if "%" in t:
        t = unquote(t)
    if "#" in t:
        t = t.split("#", 1)[0]
    t = _BIDI_RE.sub("", t)
    t = _WS_RE.sub(" ", t).strip()
    if t.startswith(":"):
        t = t[1:].lstrip()
    if t:
        first = t[0].upper()
        if len(first) == 1:
            t = first + t[1:]
    return t


# --- namespaces and prefixes ---------------------------------------------------
# File/Image/Media in English and the most common localised names (links to
# them are images: dropped with their caption).
FILE_NAMESPACES = frozenset(
    """file image media datei bild fichier imagen archivo immagine ficheiro arquivo bestand afbeelding
    plik grafika soubor súbor fil billede bilde kuva tiedosto fájl kép dosya resim файл изображение
    zdjęcie αρχείο εικόνα קובץ ملف صورة パイル ファイル 画像 文件 檔案 图像 圖像 파일 그림""".split()
)
CATEGORY_NAMESPACES = frozenset(
    "category kategorie catégorie categoría categoria categorie kategoria kategori kategória luokka "
    "категория категорія קטגוריה تصنيف カテゴリ 分类 分類 분류".split()
)
# Other namespaces of the English Wikipedia (and their aliases): link text kept, no anchor.
OTHER_NAMESPACES = frozenset(
    [
        "talk",
        "user",
        "user talk",
        "wikipedia",
        "wikipedia talk",
        "wp",
        "wt",
        "project",
        "project talk",
        "file talk",
        "image talk",
        "mediawiki",
        "mediawiki talk",
        "template",
        "template talk",
        "t",
        "help",
        "help talk",
        "category talk",
        "portal",
        "portal talk",
        "book",
        "book talk",
        "draft",
        "draft talk",
        "education program",
        "education program talk",
        "timedtext",
        "timedtext talk",
        "module",
        "module talk",
        "gadget",
        "gadget talk",
        "gadget definition",
        "gadget definition talk",
        "special",
        "topic",
        "mos",
        "h",
        "cat",
        "wikiproject",
        "wikipedia:wikiproject",
        "user:",
    ]
)
# Interwiki prefixes (sister projects); with a leading colon or not, no anchor.
INTERWIKI_PREFIXES = frozenset(
    """w wikipedia wikt wiktionary n wikinews b wikibooks q wikiquote s wikisource species wikispecies
    v wikiversity voy wikivoyage d wikidata c commons m meta mw mediawikiwiki phab phabricator
    foundation wmf outreach incubator wikitech metawikipedia google imdb doi arxiv rfc isbn""".split()
)
# Language editions of Wikipedia (interlanguage link prefixes).
LANGUAGE_CODES = frozenset(
    """aa ab ace ady af ak als alt am an ang ar arc ary arz as ast atj av avk awa ay az azb ba ban bar
    bat-smg bcl be be-tarask be-x-old bg bh bi bjn bm bn bo bpy br bs bug bxr ca cbk-zam cdo ce ceb ch
    cho chr chy ckb co cr crh cs csb cu cv cy da de din diq dsb dty dv dz ee el eml en eo es et eu ext
    fa ff fi fiu-vro fj fo fr frp frr fur fy ga gag gan gcr gd gl glk gn gom gor got gu gv ha hak haw
    he hi hif ho hr hsb ht hu hy hyw hz ia id ie ig ii ik ilo inh io is it iu ja jam jbo jv ka kaa kab
    kbd kbp kg ki kj kk kl km kn ko koi kr krc ks ksh ku kv kw ky la lad lb lbe lez lfn lg li lij lld
    lmo ln lo lrc lt ltg lv mad mai map-bms mdf mg mh mhr mi min mk ml mn mni mnw mo mr mrj ms mt mus
    mwl my myv mzn na nah nap nds nds-nl ne new ng nia nl nn no nov nqo nrm nso nv ny oc olo om or os
    pa pag pam pap pcd pdc pfl pi pih pl pms pnb pnt ps pt qu rm rmy rn ro roa-rup roa-tara ru rue rw
    sa sah sat sc scn sco sd se sg sh shi shn si simple sk skr sl sm smn sn so sq sr srn ss st stq su
    sv sw szl szy ta tay tcy te tet tg th ti tk tl tn to tpi tr trv ts tt tum tw ty tyv udm ug uk ur
    uz ve vec vep vi vls vo wa war wo wuu xal xh xmf yi yo yue za zea zh zh-classical zh-min-nan
    zh-yue zu""".split()
)

# English link trail (MediaWiki's $linkTrail for en: /^([a-z]+)(.*)$/sD).
_TRAIL_RE = re.compile(r"[a-z]+")
_MAGIC_RE = re.compile(r"__[A-Z]+__")
_REDIRECT_RE = re.compile(r"^\s*#\s*redirect\b", re.IGNORECASE)

# Sections whose content is references or link lists, skipped up to the next heading of the same level.
SKIP_SECTIONS = frozenset(
    [
        "references",
        "external links",
        "see also",
        "further reading",
        "notes",
        "bibliography",
        "sources",
        "footnotes",
        "citations",
        "works cited",
        "notes and references",
        "references and notes",
        "external link",
        "reference",
        "literature",
        "cited sources",
        "general references",
        "other websites",
        "explanatory notes",
    ]
)

# Tags whose text is shown (formatting): recurse into their contents.
_KEEP_TAGS = frozenset(
    """b i u s strike del ins em strong big small sub sup span font abbr cite q tt code var kbd samp
    mark nowiki onlyinclude bdi bdo dfn time data ruby rb rt rp wbr section a translate""".split()
)
# Tags that are block-level text containers: their contents become separate paragraphs.
_BLOCK_TAGS = frozenset("p div center blockquote poem ul ol dl".split())
_LIST_TAGS = frozenset(["li", "dt", "dd"])
# Everything else (ref, references, math, chem, ce, gallery, timeline, imagemap, score, pre, source,
# syntaxhighlight, graph, mapframe, maplink, templatestyles, table, includeonly, noinclude, hr, ...)
# is dropped with its contents.

# Inline templates that print (part of) their arguments.
_FIRST_ARG_TEMPLATES = frozenset(
    """nowrap nobr nobreak small smaller big larger smallcaps sc sc1 em strong var nobold noitalic
    noitalics nowrap begin resize font color colour kbd code mono ill interlanguage link
    interlanguage link multi""".split()
)
_LAST_ARG_TEMPLATES = frozenset(["lang", "transl", "transliteration", "langx", "native name", "nihongo2"])
_CONST_TEMPLATES = {
    "ndash": "\u2013",
    "mdash": "\u2014",
    "snd": " \u2013 ",
    "spnd": " \u2013 ",
    "spaced ndash": " \u2013 ",
    "spaced en dash": " \u2013 ",
    "dash": " \u2013 ",
    "'": "'",
    "' \"": "'\"",
    "\" '": "\"'",
    "nbsp": " ",
    "-": "",
    "·": " · ",
    "dot": " · ",
    "middot": "·",
    "•": " • ",
    "bull": " • ",
    "and": " and ",
    "=": "=",
    "!": "|",
    "!!": "||",
    "pipe": "|",
    "'s": "'s",
    "sic": "",
}
_CONVERT_RANGE = frozenset(["-", "\u2013", "to", "and", "or", "x", "by", "&", "+", "to(-)", "+/-", "±"])

_LIST = "\x01"  # start-of-list-item marker inside the intermediate text
# whitespace runs that change when collapsed: at the ends, longer than one char, other than " ",
# or a single space before closing punctuation / after an opening bracket
_CHANGE_RE = re.compile(
    r"^[\s\x01]+|[\s\x01]+$|(?<![\s\x01])(?:[\s\x01]{2,}|[^\S ]|\x01)(?![\s\x01])"
    r"|(?<![\s\x01]) (?=[,.;:!?)\]])|(?<=[(\[]) (?![\s\x01])"
)
_JUNK_LINE_RE = re.compile(r"^\s*(?:\{\||\|\}|\||!|----|=|\{\{|\}\}|<)")
_EMPTY_PARENS_RE = re.compile(r"\(\s*(?:[,;:\u2013\u2014-]\s*)*\)|\[\s*\]|'{2,}")
_LETTER_RE = re.compile(r"[^\W\d_]")
_NO_SPACE_BEFORE = frozenset(",.;:!?)]")


class _Builder:
    """Accumulates output text and (start, end, target) anchor spans."""

    __slots__ = ("parts", "length", "anchors")

    def __init__(self) -> None:
        self.parts: List[str] = []
        self.length = 0
        self.anchors: List[Tuple[int, int, str]] = []

    def add(self, s: str) -> None:
        if s:
            self.parts.append(s)
            self.length += len(s)

    def text(self) -> str:
        return "".join(self.parts)


def _template_name(node) -> str:
    name = str(node.name).strip().replace("_", " ")
    if name.lower().startswith("template:"):
        name = name[len("template:") :]
    return re.sub(r"\s+", " ", name).strip().lower()


def _positional(node) -> List:
    return [p for p in node.params if not p.showkey]


class _Converter:
    def __init__(self, keep_lists: bool) -> None:
        self.keep_lists = keep_lists
        self.out = _Builder()

    # The main walk. ``anchors`` is False inside link text (no nested anchors).
    def nodes(self, nodes: Sequence, anchors: bool = True, top: bool = False) -> None:
        import mwparserfromhell.nodes as N

        out = self.out
        skip_level = 0  # >0: inside a skipped section of this heading level
        trail_skip = 0  # chars of the next Text node already used as a link trail
        for i, node in enumerate(nodes):
            if top and isinstance(node, N.Heading):
                out.add("\n\n")
                title = re.sub(r"\s+", " ", node.title.strip_code()).strip().lower()
                if skip_level and node.level > skip_level:
                    continue
                skip_level = node.level if title in SKIP_SECTIONS else 0
                continue
            if skip_level:
                continue
            if isinstance(node, N.Text):
                value = node.value
                if trail_skip:
                    value = value[trail_skip:]
                    trail_skip = 0
                if "__" in value:
                    value = _MAGIC_RE.sub("", value)
                out.add(value)
            elif isinstance(node, N.Wikilink):
                trail_skip = self.wikilink(node, nodes[i + 1] if i + 1 < len(nodes) else None, anchors)
            elif isinstance(node, N.Tag):
                self.tag(node, anchors)
            elif isinstance(node, N.Template):
                self.template(node, anchors)
            elif isinstance(node, N.HTMLEntity):
                try:
                    value = node.normalize()
                except (ValueError, OverflowError):
                    value = ""
                out.add(" " if value in ("\xa0", "\u2009", "\u202f") else value)
            elif isinstance(node, N.ExternalLink):
                if node.brackets and node.title is not None:
                    self.nodes(node.title.nodes, anchors=False)
            elif isinstance(node, N.Heading):  # nested heading (inside a tag): a paragraph break
                out.add("\n\n")
            # Comment, Argument, Heading handled above, anything else: dropped

    def wikilink(self, node, nxt, anchors: bool) -> int:
        """Emit a link; return how many chars of the next Text node form its link trail."""
        import mwparserfromhell.nodes as N

        out = self.out
        raw = str(node.title)
        has_markup = "{" in raw or "<" in raw or "[" in raw
        t = html.unescape(raw).replace("_", " ").strip()
        colon = t.startswith(":")
        if colon:
            t = t[1:].lstrip()
        target: Optional[str] = None
        prefix, sep, _rest = t.partition(":")
        prefix = re.sub(r"\s+", " ", prefix).strip().lower()
        if sep and prefix:
            if prefix in FILE_NAMESPACES or prefix in CATEGORY_NAMESPACES:
                if not colon:
                    return 0  # an image or a category tag: nothing visible in the text
            elif prefix in LANGUAGE_CODES:
                if not colon:
                    return 0  # interlanguage link: shown in the sidebar, not in the text
            elif prefix in INTERWIKI_PREFIXES:
                pass  # sister project: text kept, no anchor
            elif prefix in OTHER_NAMESPACES or prefix.endswith(" talk"):
                pass
            else:
                target = t  # main-namespace title with a colon ("Star Wars: Episode IV")
        else:
            target = t
        if target is not None and not has_markup:
            target = normalize_title(target)
        else:
            target = None
        start = out.length
        if node.text is not None and str(node.text).strip():
            self.nodes(node.text.nodes, anchors=False)
        elif node.text is not None:  # pipe trick [[Foo (bar)|]] -> "Foo"
            out.add(re.sub(r"\s*\([^()]*\)\s*$", "", t.split("#", 1)[0]).strip())
        else:
            out.add(t)
        trail = 0
        if isinstance(nxt, N.Text):
            m = _TRAIL_RE.match(nxt.value)
            if m:
                trail = m.end()
                out.add(m.group(0))
        if anchors and target:
            out.anchors.append((start, out.length, target))
        return trail

    def tag(self, node, anchors: bool) -> None:
        out = self.out
        name = str(node.tag).strip().lower()
        if name in _LIST_TAGS:
            out.add("\n" + _LIST)
            if node.contents is not None and not node.wiki_markup:
                self.nodes(node.contents.nodes, anchors)
                out.add("\n")
            return
        if name == "br":
            out.add("\n")
            return
        if node.self_closing or node.contents is None:
            return
        if name in _KEEP_TAGS:
            self.nodes(node.contents.nodes, anchors)
        elif name in _BLOCK_TAGS:
            out.add("\n\n")
            self.nodes(node.contents.nodes, anchors)
            out.add("\n\n")
        elif name == "table":
            out.add("\n\n")

    def template(self, node, anchors: bool) -> None:
        out = self.out
        name = _template_name(node)
        if name in _CONST_TEMPLATES:
            out.add(_CONST_TEMPLATES[name])
            return
        pos = _positional(node)
        if name in _FIRST_ARG_TEMPLATES or (name.startswith("lang-") and len(pos) >= 1):
            if pos:
                self.nodes(pos[0].value.nodes, anchors)
        elif name in _LAST_ARG_TEMPLATES:
            if len(pos) >= 2:
                self.nodes(pos[-1].value.nodes, anchors)
            elif pos:
                self.nodes(pos[0].value.nodes, anchors)
        elif name in ("convert", "cvt"):
            vals = [p.value.strip_code().strip() for p in pos]
            if len(vals) >= 4 and vals[1].lower() in _CONVERT_RANGE:
                out.add(" ".join(vals[:4]))
            elif len(vals) >= 2:
                out.add(f"{vals[0]} {vals[1]}")


def _paragraphs(
    full: str, anchors: List[Tuple[int, int, str]], keep_lists: bool, min_words: int = 1
) -> List[Tuple[str, List[Anchor]]]:
    """Split the intermediate text into paragraphs, clean whitespace and remap anchors."""
    # 1. line-level: group consecutive good lines into paragraph regions
    regions: List[Tuple[int, int]] = []
    cur_start = -1
    cur_end = -1
    prev_list = False
    s = 0
    for line in full.split("\n"):
        e = s + len(line)
        is_list = line.startswith(_LIST)
        good = bool(line.strip()) and (keep_lists or not is_list) and not _JUNK_LINE_RE.match(line)
        if good and (is_list or prev_list) and cur_start >= 0:  # each list item is its own paragraph
            regions.append((cur_start, cur_end))
            cur_start = -1
        prev_list = is_list
        if good:
            if cur_start < 0:
                cur_start = s
            cur_end = e
        elif cur_start >= 0:
            regions.append((cur_start, cur_end))
            cur_start = -1
        s = e + 1
    if cur_start >= 0:
        regions.append((cur_start, cur_end))

    anchors = sorted(anchors)
    a_starts = [a[0] for a in anchors]
    result: List[Tuple[str, List[Anchor]]] = []
    for ps, pe in regions:
        para = full[ps:pe]
        lo = bisect_left(a_starts, ps)
        hi = bisect_left(a_starts, pe)
        local = [(s - ps, e - ps, t) for s, e, t in anchors[lo:hi] if e <= pe]
        # 2. blank out leftover junk (empty parentheses left by dropped templates, stray quotes),
        # never inside an anchor; same length, so offsets stay valid
        if "(" in para or "'" in para or "[" in para:

            def blank(m, local=local):
                ms, me = m.span()
                if any(s < me and ms < e for s, e, _ in local):
                    return m.group(0)
                return " " * (me - ms)

            para = _EMPTY_PARENS_RE.sub(blank, para)
        # 3. collapse whitespace (one space; none at the ends, before , . ; : ! ? ) ] or after ( [),
        # recording each change to map anchor offsets
        changes: List[Tuple[int, int, str]] = []
        n = len(para)
        for m in _CHANGE_RE.finditer(para):
            cs, ce = m.span()
            if cs == 0 or ce == n or para[ce] in _NO_SPACE_BEFORE or para[cs - 1] in "([":
                rep = ""
            else:
                rep = " "
            if rep != m.group(0):
                changes.append((cs, ce, rep))
        if changes:
            pieces: List[str] = []
            last = 0
            for cs, ce, rep in changes:
                pieces.append(para[last:cs])
                pieces.append(rep)
                last = ce
            pieces.append(para[last:])
            text = "".join(pieces)
        else:
            text = para
        if not text or not _LETTER_RE.search(text) or text.count(" ") + 1 < min_words:
            continue
        c_starts = [c[0] for c in changes]
        cum = [0]
        for cs, ce, rep in changes:
            cum.append(cum[-1] + len(rep) - (ce - cs))
        out_anchors: List[Anchor] = []
        for s, e, target in local:
            k = bisect_right(c_starts, s) - 1  # last change starting at or before s
            if k >= 0 and s < changes[k][1]:  # s in a collapsed run: the anchor starts after it
                ns = changes[k][1] + cum[k + 1]
            else:
                ns = s + cum[k + 1]
            k = bisect_left(c_starts, e) - 1  # last change starting before e
            if k >= 0 and e < changes[k][1]:  # e in a collapsed run: the anchor ends before it
                ne = changes[k][0] + cum[k]
            else:
                ne = e + cum[k + 1]
            if ne <= ns:
                continue
            out_anchors.append(Anchor(ns, ne, target, text[ns:ne]))
        result.append((text, out_anchors))
    return result


# --- pre-stripping: remove what the converter would drop anyway before mwparserfromhell builds
# its (slow, pure-Python) node tree: comments, dropped extension tags, templates that print nothing.
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|$)", re.S)
_DROP_TAG_RE = re.compile(
    r"<(ref|references|math|chem|ce|gallery|timeline|imagemap|score|syntaxhighlight|source|graph|"
    r"mapframe|maplink|hiero|templatestyles|templatedata|inputbox|categorytree)\b[^>]*?(?:/>|>.*?</\1\s*>)",
    re.S | re.I,
)
_BRACES_RE = re.compile(r"\{\{|\}\}")
_TEMPLATE_HEAD_RE = re.compile(r"\s*(?:template\s*:\s*)?([^|{}<>\n]*)", re.I)


def _kept_template(name: str) -> bool:
    name = re.sub(r"[\s_]+", " ", name).strip().lower()
    return (
        name in _CONST_TEMPLATES
        or name in _FIRST_ARG_TEMPLATES
        or name in _LAST_ARG_TEMPLATES
        or name in ("convert", "cvt")
        or name.startswith("lang-")
    )


def _prestrip(wikitext: str) -> str:
    """Remove comments, dropped tags and top-level templates that print no text (same output, faster)."""
    if "<!--" in wikitext:
        wikitext = _COMMENT_RE.sub("", wikitext)
    if "<" in wikitext:
        wikitext = _DROP_TAG_RE.sub("", wikitext)
    if "{{" not in wikitext:
        return wikitext
    pieces: List[str] = []
    depth = 0
    start = 0
    last = 0
    for m in _BRACES_RE.finditer(wikitext):
        if m.group(0) == "{{":
            if depth == 0:
                start = m.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                head = _TEMPLATE_HEAD_RE.match(wikitext, start + 2)
                if head is None or not _kept_template(head.group(1)):
                    pieces.append(wikitext[last:start])
                    last = m.end()
    pieces.append(wikitext[last:])  # an unclosed "{{" is left to mwparserfromhell
    return "".join(pieces)


def wikitext_to_paragraphs(
    wikitext: str, title: str = "", *, keep_lists: bool = False, min_words: int = 3
) -> List[Tuple[str, List[Anchor]]]:
    """Convert a page's wikitext to plain-text paragraphs with anchor spans.

    wikitext (str): The page source.
    title (str): The page title (for error messages).
    keep_lists (bool): Keep list items (``*``, ``#``, ``:``, ``;``), one paragraph each.
    min_words (int): Drop shorter paragraphs (pseudo-headings such as a line in bold,
        captions, leftovers of lists and tables).
    RETURNS (List[Tuple[str, List[Anchor]]]): ``(text, anchors)`` per paragraph, in page
        order; ``text[a.start:a.end] == a.text`` for every anchor. A redirect page gives [].
    """
    if not wikitext or _REDIRECT_RE.match(wikitext):
        return []
    import mwparserfromhell

    try:
        code = mwparserfromhell.parse(_prestrip(wikitext), skip_style_tags=False)
        conv = _Converter(keep_lists)
        conv.nodes(code.nodes, anchors=True, top=True)
        return _paragraphs(conv.out.text(), conv.out.anchors, keep_lists, min_words)
    except RecursionError:
        raise WikitextError(f"page '{title}': the wikitext is nested too deeply to convert", title) from None
    except NerbertError:
        raise
    except Exception as e:  # mwparserfromhell.parser.ParserError and friends
        raise WikitextError(
            f"page '{title}': mwparserfromhell could not parse the wikitext ({type(e).__name__}: {e})", title
        ) from None

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
from typing import Any, List, Optional, Sequence, Tuple
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


# A title that needs none of the steps below but "_" -> " " and the first letter: words of
# characters other than whitespace, "_", "&", "%", "#" and bidi marks, joined by one "_" or " ",
# not starting with ":". Most titles and DBpedia resource names are such.
_C = "[^\\s_&%#\u200e\u200f\u202a-\u202e]"
_SIMPLE_TITLE_RE = re.compile(f"(?!:){_C}+(?:[_ ]{_C}+)*")


def normalize_title(title: str) -> str:
    """Normalise a page title the way MediaWiki resolves links in the main namespace.

    HTML entities unescaped, percent-escapes decoded (DBpedia IRIs,
    ``[[AT%26T]]``), underscores and runs of whitespace -> one space, a
    section part ``#...`` and a leading ``:`` removed, surrounding whitespace
    stripped, first letter upper-cased.

    title (str): A link target, page title or DBpedia resource name.
    RETURNS (str): The normalised title ("" for a same-page link like ``#History``).
    """
    if _SIMPLE_TITLE_RE.fullmatch(title):
        t = title.replace("_", " ")
        first = t[0].upper()
        return first + t[1:] if len(first) == 1 else t
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
# whitespace runs that change when collapsed: longer than one char, other than " ", or a single
# space before closing punctuation / after an opening bracket (a single space at either end of a
# paragraph is added by ``_paragraphs``). Every branch starts with a character, so the regex
# engine skips ahead to the next whitespace instead of trying each position.
_CHANGE_RE = re.compile(r"[\s\x01]{2,}|[^\S ]|\x01| (?=[,.;:!?)\]])| (?<=[(\[] )")
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


class _Link:
    """A wikilink of the light tree: its title as written, its text nodes (None: no pipe)."""

    __slots__ = ("raw", "text")

    def __init__(self, raw: str, text: Optional[List]) -> None:
        self.raw = raw
        self.text = text


class _Tag:
    """A tag of the light tree (HTML, or wiki markup such as bold, list items and tables)."""

    __slots__ = ("name", "contents", "wiki_markup", "self_closing")

    def __init__(self, name: str, contents: Optional[List], wiki_markup: Optional[str], self_closing: bool) -> None:
        self.name = name
        self.contents = contents
        self.wiki_markup = wiki_markup
        self.self_closing = self_closing


class _Heading:
    """A heading of the light tree, with its title as plain text."""

    __slots__ = ("title", "level")

    def __init__(self, title: str, level: int) -> None:
        self.title = title
        self.level = level


def _is_blank(nodes: Sequence) -> bool:
    """Whether wikicode made of these nodes prints as whitespace only (``str(code).strip() == ""``)."""
    import mwparserfromhell.nodes as N

    for node in nodes:
        if type(node) is str:
            if node.strip():
                return False
        elif not (isinstance(node, N.Text) and not node.value.strip()):
            return False  # any other node has visible markup
    return True


class _LightTree:
    """Builds a light node tree from mwparserfromhell's token list.

    mwparserfromhell's own ``Builder`` wraps every node in ``Wikicode`` and ``SmartList``
    objects, which costs most of a parse. Here text is a plain ``str``, and links, tags and
    headings whose title or name is plain text become :class:`_Link`, :class:`_Tag` and
    :class:`_Heading`; everything else (templates, external links, HTML entities, links with
    markup in their title, ...) is built by the real ``Builder`` from its range of tokens, so
    :class:`_Converter` sees the same information either way.
    """

    def __init__(self, tokens: List) -> None:
        from mwparserfromhell.parser import tokens as T

        self.T = T
        self.tokens = tokens
        self.opens = frozenset(
            [T.TemplateOpen, T.ArgumentOpen, T.WikilinkOpen, T.ExternalLinkOpen, T.HTMLEntityStart,
             T.HeadingStart, T.CommentStart, T.TagOpenOpen]
        )  # fmt: skip
        self.closes = frozenset(
            [T.TemplateClose, T.ArgumentClose, T.WikilinkClose, T.ExternalLinkClose, T.HTMLEntityEnd,
             T.HeadingEnd, T.CommentEnd, T.TagCloseSelfclose, T.TagCloseClose]
        )  # fmt: skip

    def build(self) -> List:
        nodes, i = self.sequence(0)
        if i != len(self.tokens):
            raise ValueError(f"unexpected {type(self.tokens[i]).__name__} token at the top level")
        return nodes

    def close_of(self, i: int, stops: Tuple = ()) -> int:
        """Index of the token closing the node opened at ``i``, or with ``stops``, of the first
        such token at that node's own level."""
        tokens, opens, closes = self.tokens, self.opens, self.closes
        depth = 0
        for j in range(i, len(tokens)):
            kind = type(tokens[j])
            if depth == 1 and kind in stops:
                return j
            if kind in opens:
                depth += 1
            elif kind in closes:
                depth -= 1
                if depth == 0:
                    if stops:
                        break
                    return j
        raise ValueError(f"no closing token for {type(tokens[i]).__name__}")

    def real(self, i: int, j: int):
        """The real mwparserfromhell node of tokens ``i..j``."""
        from mwparserfromhell.parser.builder import Builder

        return Builder().build(self.tokens[i : j + 1]).nodes[0]

    def whole(self, i: int) -> Tuple[Any, int]:
        """The real node of the construct that opens at ``i``; RETURNS (node, index after it)."""
        j = self.close_of(i)
        return self.real(i, j), j + 1

    def text_run(self, i: int) -> Tuple[str, int]:
        """Join the Text tokens from ``i``; RETURNS (text, index of the first other token)."""
        tokens, Text = self.tokens, self.T.Text
        parts = []
        while i < len(tokens) and type(tokens[i]) is Text:
            parts.append(tokens[i]["text"])
            i += 1
        return "".join(parts), i

    def sequence(self, i: int) -> Tuple[List, int]:
        """Nodes from ``i`` up to the first token that closes or separates the enclosing node."""
        T, tokens = self.T, self.tokens
        out: List = []
        n = len(tokens)
        while i < n:
            tok = tokens[i]
            kind = type(tok)
            if kind is T.Text:
                out.append(tok["text"])
                i += 1
            elif kind is T.WikilinkOpen:
                raw, j = self.text_run(i + 1)
                after = type(tokens[j])
                if after is T.WikilinkClose:
                    out.append(_Link(raw, None))
                    i = j + 1
                elif after is T.WikilinkSeparator:
                    text, k = self.sequence(j + 1)
                    if type(tokens[k]) is not T.WikilinkClose:
                        raise ValueError("unclosed wikilink")
                    out.append(_Link(raw, text))
                    i = k + 1
                else:
                    node, i = self.whole(i)
                    out.append(node)
            elif kind is T.TagOpenOpen:
                node, i = self.tag(i)
                out.append(node)
            elif kind is T.HeadingStart:
                title, j = self.text_run(i + 1)
                if type(tokens[j]) is T.HeadingEnd:
                    out.append(_Heading(title, tok["level"]))
                    i = j + 1
                else:
                    node, i = self.whole(i)
                    out.append(node)
            elif kind is T.CommentStart:
                i = self.close_of(i) + 1  # comments print nothing
            elif kind in self.opens:
                node, i = self.whole(i)
                out.append(node)
            else:
                break
        return out, i

    def tag(self, i: int) -> Tuple[Any, int]:
        T, tokens = self.T, self.tokens
        name, j = self.text_run(i + 1)
        kind = type(tokens[j])
        if kind is T.TagAttrStart:  # attributes print nothing: skip to the end of the opening tag
            j = self.close_of(i, (T.TagCloseOpen, T.TagCloseSelfclose))
            kind = type(tokens[j])
        if kind is T.TagCloseSelfclose:
            return _Tag(name, None, tokens[i].get("wiki_markup"), True), j + 1
        if kind is T.TagCloseOpen:
            contents, k = self.sequence(j + 1)
            if type(tokens[k]) is T.TagOpenClose:
                _, end = self.text_run(k + 1)  # the closing tag's name
                if type(tokens[end]) is T.TagCloseClose:
                    return _Tag(name, contents, tokens[i].get("wiki_markup"), False), end + 1
        end = self.close_of(i)  # a tag name with markup, or an unusual shape: the real node
        return self.real(i, end), end + 1


class _Converter:
    def __init__(self, keep_lists: bool) -> None:
        self.keep_lists = keep_lists
        self.out = _Builder()

    # The main walk over light (_LightTree) or real (mwparserfromhell) nodes.
    # ``anchors`` is False inside link text (no nested anchors).
    def nodes(self, nodes: Sequence, anchors: bool = True, top: bool = False) -> None:
        import mwparserfromhell.nodes as N

        out = self.out
        skip_level = 0  # >0: inside a skipped section of this heading level
        trail_skip = 0  # chars of the next Text node already used as a link trail
        for i, node in enumerate(nodes):
            kind = type(node)
            if top and (kind is _Heading or kind is N.Heading):
                out.add("\n\n")
                raw = node.title if kind is _Heading else node.title.strip_code()
                title = re.sub(r"\s+", " ", raw).strip().lower()
                if skip_level and node.level > skip_level:
                    continue
                skip_level = node.level if title in SKIP_SECTIONS else 0
                continue
            if skip_level:
                continue
            if kind is str or kind is N.Text:
                value = node if kind is str else node.value
                if trail_skip:
                    value = value[trail_skip:]
                    trail_skip = 0
                if "__" in value:
                    value = _MAGIC_RE.sub("", value)
                out.add(value)
            elif kind is _Link:
                trail_skip = self.wikilink(node.raw, node.text, nodes[i + 1] if i + 1 < len(nodes) else None, anchors)
            elif kind is N.Wikilink:
                text = node.text.nodes if node.text is not None else None
                trail_skip = self.wikilink(str(node.title), text, nodes[i + 1] if i + 1 < len(nodes) else None, anchors)
            elif kind is _Tag:
                self.tag(node.name, node.contents, node.wiki_markup, node.self_closing, anchors)
            elif kind is N.Tag:
                contents = node.contents.nodes if node.contents is not None else None
                self.tag(str(node.tag), contents, node.wiki_markup, node.self_closing, anchors)
            elif kind is N.Template:
                self.template(node, anchors)
            elif kind is N.HTMLEntity:
                try:
                    value = node.normalize()
                except (ValueError, OverflowError):
                    value = ""
                out.add(" " if value in ("\xa0", "\u2009", "\u202f") else value)
            elif kind is N.ExternalLink:
                if node.brackets and node.title is not None:
                    self.nodes(node.title.nodes, anchors=False)
            elif kind is _Heading or kind is N.Heading:  # nested heading (inside a tag): a paragraph break
                out.add("\n\n")
            # Comment, Argument: dropped

    def wikilink(self, raw: str, text: Optional[Sequence], nxt, anchors: bool) -> int:
        """Emit a link (its title as written, its text nodes or None); return how many chars
        of the next Text node form its link trail."""
        import mwparserfromhell.nodes as N

        out = self.out
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
        if text is not None and not _is_blank(text):
            self.nodes(text, anchors=False)
        elif text is not None:  # pipe trick [[Foo (bar)|]] -> "Foo"
            out.add(re.sub(r"\s*\([^()]*\)\s*$", "", t.split("#", 1)[0]).strip())
        else:
            out.add(t)
        trail = 0
        value = nxt if type(nxt) is str else nxt.value if isinstance(nxt, N.Text) else None
        if value is not None:
            m = _TRAIL_RE.match(value)
            if m:
                trail = m.end()
                out.add(m.group(0))
        if anchors and target:
            out.anchors.append((start, out.length, target))
        return trail

    def tag(
        self, name: str, contents: Optional[Sequence], wiki_markup: Optional[str], self_closing: bool, anchors: bool
    ) -> None:
        """Emit a tag: its name, its content nodes (None: none), its wiki markup, whether self-closing."""
        out = self.out
        name = name.strip().lower()
        if name in _LIST_TAGS:
            out.add("\n" + _LIST)
            if contents is not None and not wiki_markup:
                self.nodes(contents, anchors)
                out.add("\n")
            return
        if name == "br":
            out.add("\n")
            return
        if self_closing or contents is None:
            return
        if name in _KEEP_TAGS:
            self.nodes(contents, anchors)
        elif name in _BLOCK_TAGS:
            out.add("\n\n")
            self.nodes(contents, anchors)
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


def _collapse_whitespace(para: str) -> Tuple[str, List[Tuple[int, int, str]]]:
    """Collapse whitespace runs to one space (none at the ends, before , . ; : ! ? ) ] or after ( [).

    para (str): The paragraph text (``\x01`` list markers count as whitespace).
    RETURNS (Tuple[str, List[Tuple[int, int, str]]]): The new text and the changes made,
        ``(start, end, replacement)`` in the old text, in order.
    """
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
    if n and para[0] == " " and not (changes and changes[0][0] == 0):
        changes.insert(0, (0, 1, ""))
    if n and para[-1] == " " and not (changes and changes[-1][1] == n):
        changes.append((n - 1, n, ""))
    if not changes:
        return para, changes
    pieces: List[str] = []
    last = 0
    for cs, ce, rep in changes:
        pieces.append(para[last:cs])
        pieces.append(rep)
        last = ce
    pieces.append(para[last:])
    return "".join(pieces), changes


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
        # 3. collapse whitespace, recording each change to map anchor offsets
        text, changes = _collapse_whitespace(para)
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


def _parse(wikitext: str) -> List:
    """The page as a light node tree (:class:`_LightTree`) over mwparserfromhell's tokens; a
    token stream the light tree does not expect is built by mwparserfromhell itself."""
    import mwparserfromhell
    from mwparserfromhell.parser import Parser

    tokens = Parser()._tokenizer.tokenize(wikitext, 0, False)
    try:
        return _LightTree(tokens).build()
    except (ValueError, IndexError, KeyError):
        return mwparserfromhell.parse(wikitext, skip_style_tags=False).nodes


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
    try:
        conv = _Converter(keep_lists)
        conv.nodes(_parse(_prestrip(wikitext)), anchors=True, top=True)
        return _paragraphs(conv.out.text(), conv.out.anchors, keep_lists, min_words)
    except RecursionError:
        raise WikitextError(f"page '{title}': the wikitext is nested too deeply to convert", title) from None
    except NerbertError:
        raise
    except Exception as e:  # mwparserfromhell.parser.ParserError and friends
        raise WikitextError(
            f"page '{title}': mwparserfromhell could not parse the wikitext ({type(e).__name__}: {e})", title
        ) from None

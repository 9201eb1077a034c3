"""Wikitext -> plain text with anchors: every rule on small inline snippets, plus invariants on real dumps."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nerbert_spacy.wikipedia.wikitext import Anchor, WikitextError, normalize_title, wikitext_to_paragraphs


def convert(src, **kw):
    kw.setdefault("min_words", 1)
    paras = wikitext_to_paragraphs(src, "Test", **kw)
    for text, anchors in paras:
        for a in anchors:
            assert text[a.start : a.end] == a.text, (text, a)
    return paras


def one(src, **kw):
    paras = convert(src, **kw)
    assert len(paras) == 1, paras
    return paras[0]


def links(src):
    text, anchors = one(src)
    return text, [(a.text, a.target) for a in anchors]


@pytest.mark.parametrize(
    "title,expected",
    [
        ("dog", "Dog"),
        ("  new_york_City ", "New york City"),
        ("AT&amp;T", "AT&T"),
        ("AT%26T", "AT&T"),
        ("%22Heroes%22_(David_Bowie_album)", '"Heroes" (David Bowie album)'),
        ("Paris#History", "Paris"),
        (":Category:X", "Category:X"),
        ("#History", ""),
        ("éclair", "Éclair"),
        ("ßtraße", "ßtraße"),  # no single-char upper case: unchanged
        ("A\u200e B", "A B"),
    ],
)
def test_normalize_title(title, expected):
    assert normalize_title(title) == expected


def test_plain_link_and_first_letter_case():
    assert links("A [[dog]] barks.") == ("A dog barks.", [("dog", "Dog")])


def test_piped_link():
    assert links("The [[United_States|US]] flag.") == ("The US flag.", [("US", "United States")])


def test_link_trail_is_one_anchor():
    assert links("Two [[dog]]s and [[cat]]'s toy.") == (
        "Two dogs and cat's toy.",
        [("dogs", "Dog"), ("cat", "Cat")],
    )


def test_section_links():
    assert links("See [[Paris#History|its history]] now.") == ("See its history now.", [("its history", "Paris")])
    # a same-page link is text, not an entity
    assert links("See [[#Early life|below]] and [[Berlin]].") == ("See below and Berlin.", [("Berlin", "Berlin")])


def test_bold_italic_and_entities():
    text, anchors = links("'''Paris''' is ''the'' capital&nbsp;of [[France]] &amp; [[AT&amp;T|AT&amp;T]].")
    assert text == "Paris is the capital of France & AT&T."
    assert anchors == [("France", "France"), ("AT&T", "AT&T")]


def test_link_inside_formatting():
    assert links("The ''[[The Times|Times]]'' wrote.") == ("The Times wrote.", [("Times", "The Times")])


def test_templates_refs_comments_dropped():
    src = (
        "{{Infobox person|name=[[X]]}}'''Ada''' ({{IPA-en|ˈeɪdə}}) was a [[mathematician]]"
        '<ref name="a">{{cite book|title=[[Book]]}}</ref><ref name="b"/><!-- [[Hidden]] -->.'
    )
    assert links(src) == ("Ada was a mathematician.", [("mathematician", "Mathematician")])


def test_inline_templates_keep_text():
    src = "He said {{lang|fr|[[Bonjour]]}} at {{nowrap|[[Paris]] 5}}, {{convert|5|km|mi}} away{{snd}}late."
    text, anchors = links(src)
    assert text == "He said Bonjour at Paris 5, 5 km away – late."
    assert anchors == [("Bonjour", "Bonjour"), ("Paris", "Paris")]


def test_files_categories_interwiki_dropped():
    src = (
        "[[File:Map.png|thumb|A [[map]] of [[Spain]]]][[Image:X.jpg]][[Datei:Y.jpg|mini]]"
        "Madrid is in [[Spain]].[[Category:Cities]][[fr:Madrid]][[de:Madrid]]"
    )
    assert links(src) == ("Madrid is in Spain.", [("Spain", "Spain")])


def test_links_to_other_namespaces_keep_text_without_anchor():
    src = "See [[:Category:Cities|the cities]], [[wikt:dog|dog]], [[Wikipedia:About|about]] and [[:fr:Paris|Paris]]."
    assert links(src) == ("See the cities, dog, about and Paris.", [])


def test_main_namespace_title_with_colon():
    assert links("The film [[Star Wars: Episode IV]] won.")[1] == [("Star Wars: Episode IV", "Star Wars: Episode IV")]


def test_tables_and_html_tags():
    src = (
        "Intro [[A]].\n{| class=wikitable\n|-\n| [[Cell]] || x\n|}\n"
        "Text <b>bold [[B]]</b> <span style='x'>span</span> <math>x^2</math> end<br/>more.<sup>2</sup>"
    )
    paras = convert(src)
    assert [p[0] for p in paras] == ["Intro A.", "Text bold B span end more.2"]
    assert [a.target for a in paras[1][1]] == ["B"]


def test_headings_and_paragraphs():
    src = "First [[A]].\nSame paragraph.\n\nSecond.\n== History ==\nThird [[C]].\n=== Sub ===\nFourth."
    paras = convert(src)
    assert [p[0] for p in paras] == ["First A. Same paragraph.", "Second.", "Third C.", "Fourth."]
    assert paras[2][1] == [Anchor(6, 7, "C", "C")]


def test_reference_sections_skipped():
    src = (
        "Body [[A]].\n== See also ==\nRelated [[B]].\n=== More ===\nx [[C]]\n"
        "== References ==\n{{reflist}}\n== Legacy ==\nLater [[D]]."
    )
    assert [p[0] for p in convert(src)] == ["Body A.", "Later D."]


def test_lists_dropped_by_default_and_kept_on_request():
    src = "Intro.\n* item [[One]]\n# numbered [[Two]]\n: indented\n; term\nOutro."
    assert [p[0] for p in convert(src)] == ["Intro.", "Outro."]
    kept = convert(src, keep_lists=True)
    assert [p[0] for p in kept] == ["Intro.", "item One", "numbered Two", "indented", "term", "Outro."]
    assert [a.target for a in kept[1][1]] == ["One"]


def test_short_paragraphs_dropped_by_default():
    src = "== Career ==\n'''KDOG'''\n\nAfter college, he joined [[KRIV (TV)|KDOG-TV]].\n\n[[Wales]]\n"
    paras = wikitext_to_paragraphs(src)
    assert [p[0] for p in paras] == ["After college, he joined KDOG-TV."]
    assert len(wikitext_to_paragraphs(src, min_words=1)) == 3


def test_whitespace_and_leftover_parentheses():
    text, anchors = links("  [[Paris]]   ({{IPA-fr|paʁi}})  is\n  [[big  city|big]] ,  really .  ")
    assert text == "Paris is big, really."
    assert anchors == [("Paris", "Paris"), ("big", "Big city")]


def test_anchor_text_whitespace_collapsed():
    assert links("A [[New York|New\n York]] b.") == ("A New York b.", [("New York", "New York")])


def test_pipe_trick_and_nested_link_text():
    assert links("The [[Paris (band)|]] play.") == ("The Paris play.", [("Paris", "Paris (band)")])
    # links inside link text are not separate anchors
    assert links("[[A|x [[B]] y]] z.")[1][0][1] in ("A", "B")


def test_external_links():
    assert links("Visit [http://example.com the site] or http://x.y now.") == (
        "Visit the site or now.",  # a bare URL is dropped
        [],
    )


def test_redirect_and_empty_pages():
    assert wikitext_to_paragraphs("#REDIRECT [[Paris]]") == []
    assert wikitext_to_paragraphs("") == []
    assert wikitext_to_paragraphs("{{Infobox}}\n[[Category:X]]") == []


def test_parser_failure_is_a_wikitext_error(monkeypatch):
    from types import SimpleNamespace

    import mwparserfromhell.parser

    def boom(*a, **k):
        raise ValueError("tokenizer exploded")

    monkeypatch.setattr(mwparserfromhell.parser, "Parser", lambda: SimpleNamespace(_tokenizer=SimpleNamespace(tokenize=boom)))
    with pytest.raises(WikitextError, match="page 'Test'.*tokenizer exploded"):
        wikitext_to_paragraphs("Some [[text]].", "Test")


def test_deeply_nested_markup_does_not_crash():
    src = "x " + "{{a|" * 300 + "y" + "}}" * 300 + " [[End]] " + "[[" * 50
    paras = convert(src)
    assert any(a.target == "End" for _, anchors in paras for a in anchors)


FRAGMENTS = st.sampled_from(
    [
        "[[dog]]s ",
        "[[A#B|x y]] ",
        "[[#sec|here]] ",
        "'''bold''' ",
        "''[[it]]'' ",
        "{{cite|[[x]]}}",
        "<ref>[[r]]</ref>",
        "&nbsp;",
        "&amp;",
        "\n",
        "\n\n",
        "== H ==\n",
        "* li [[L]]\n",
        "(",
        ")",
        " , ",
        "[[File:x.png|thumb|[[c]]]]",
        "{|\n| [[t]]\n|}\n",
        "<b>[[B|b]]</b>",
        "{{lang|de|[[Haus]]}}",
        "word ",
        "[[new_york|NY]]",
        "<!-- c -->",
        "[[fr:X]]",
        "]]",
        "{{",
        "'",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(FRAGMENTS, max_size=25))
def test_anchor_spans_always_match(parts):
    for text, anchors in convert("".join(parts)):
        assert text == text.strip() and "  " not in text and "\n" not in text
        for a in anchors:
            assert a.target and a.start < a.end and a.text == a.text.strip()
        spans = [(a.start, a.end) for a in anchors]
        assert spans == sorted(spans)


def test_real_dumps_anchor_invariants(shared_data):
    from nerbert_spacy.wikipedia.dump import iter_pages

    path = shared_data / "wikipedia" / "dbpedia-minidump-enwiki.xml.bz2"
    if not path.exists():
        pytest.skip("minidump absent")
    n_anchors = 0
    targets = set()
    for page in iter_pages(path):
        for text, anchors in convert(page.text):
            assert "[[" not in text and "{{" not in text and "<ref" not in text
            n_anchors += len(anchors)
            targets.update(a.target for a in anchors)
    assert n_anchors > 3000
    assert {"Germany", "European Union", "Chancellor of Germany"} <= targets


def test_whitespace_collapse_matches_the_reference_regex():
    """The collapse step equals the original one-regex formulation on random whitespace mixes."""
    import random
    import re

    from nerbert_spacy.wikipedia.wikitext import _NO_SPACE_BEFORE, _collapse_whitespace

    reference = re.compile(
        r"^[\s\x01]+|[\s\x01]+$|(?<![\s\x01])(?:[\s\x01]{2,}|[^\S ]|\x01)(?![\s\x01])"
        r"|(?<![\s\x01]) (?=[,.;:!?)\]])|(?<=[(\[]) (?![\s\x01])"
    )

    def collapse(para):
        n = len(para)
        changes = []
        for m in reference.finditer(para):
            cs, ce = m.span()
            rep = "" if cs == 0 or ce == n or para[ce] in _NO_SPACE_BEFORE or para[cs - 1] in "([" else " "
            if rep != m.group(0):
                changes.append((cs, ce, rep))
        text, last = [], 0
        for cs, ce, rep in changes:
            text += [para[last:cs], rep]
            last = ce
        return "".join(text) + para[last:], changes

    rng = random.Random(0)
    for _ in range(3000):
        para = "".join(rng.choice("ab  \t\n\x01(.,[]") for _ in range(rng.randint(0, 12)))
        assert _collapse_whitespace(para) == collapse(para), repr(para)


def test_light_tree_gives_the_same_paragraphs_as_mwparserfromhell_nodes(monkeypatch):
    """The light node tree and mwparserfromhell's own tree convert to the same text and anchors."""
    import mwparserfromhell

    from nerbert_spacy.wikipedia import wikitext as W

    src = (
        "'''Bold''' [[A|b]]s <b class=x>q [[Q]]</b>&amp; [[Foo (bar)|]] [[{{x}}|y]] z\n"
        "== Head [[L]] ==\\n<div>Block [[B|b]]</div> {{lang|fr|[[Paris]]}} [http://x.y the site] &nbsp;x\n"
        "* item [[I]]\\n{| class=w\\n|a [[T]]\\n|}\\n== See also ==\\nskip [[S]] me\n"
        "=== Sub ===\\nstill skipped\\n== Next ==\\nText <span style=a>in [[Span|span]]</span>ned.\n"
    )
    light = W.wikitext_to_paragraphs(src, "T", min_words=1)
    monkeypatch.setattr(W, "_parse", lambda text: mwparserfromhell.parse(text, skip_style_tags=False).nodes)
    assert W.wikitext_to_paragraphs(src, "T", min_words=1) == light
    assert any(a.target == "I" for _, anchors in W.wikitext_to_paragraphs(src, "T", keep_lists=True, min_words=1) for a in anchors)


def test_normalize_title_fast_path_equals_the_full_rules(monkeypatch):
    """The shortcut for plain titles gives what the full normalisation gives."""
    import random
    import re

    from nerbert_spacy.wikipedia import wikitext as W

    rng = random.Random(1)
    alphabet = ["a", "B", "ß", "é", "1", "_", "__", " ", "  ", ":", "&amp;", "%26", "#", "\u200e", "\t", "(", "ǆ", "i̇"]
    titles = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7))) for _ in range(4000)]
    titles += ["Victor_Hugo", "Star Wars: Episode IV", ":Foo", "AT%26T", "ǆungla", "ßtraße"]
    fast = [W.normalize_title(t) for t in titles]
    monkeypatch.setattr(W, "_SIMPLE_TITLE_RE", re.compile(r"(?!)"))  # never matches: full rules only
    assert fast == [W.normalize_title(t) for t in titles]

"""Dump reader: .xml, .xml.bz2, multistream blocks, redirects, disambiguation, bad input."""

import bz2
import io
import tracemalloc

import pytest

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.wikipedia.dump import (
    DumpStats,
    Page,
    collect_redirects,
    is_disambiguation,
    iter_block_pages,
    iter_pages,
    read_multistream_index,
)

GENSIM = "wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"

HEADER = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-{v}/" version="{v}" xml:lang="en">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="10" case="first-letter">Template</namespace>
    </namespaces>
  </siteinfo>
"""


def page_xml(title, text="", ns=0, pid=1, redirect=None):
    red = f'<redirect title="{redirect}" />' if redirect else ""
    return (
        f"  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n    <id>{pid}</id>\n    {red}\n"
        f"    <revision>\n      <id>{pid + 1000}</id>\n      <contributor><id>7</id></contributor>\n"
        f'      <text xml:space="preserve">{text}</text>\n    </revision>\n  </page>\n'
    )


def dump_xml(pages, version="0.10"):
    return HEADER.format(v=version) + "".join(pages) + "</mediawiki>\n"


PAGES = [
    page_xml("Anarchism", "'''Anarchism''' is a [[political philosophy]].", pid=12),
    page_xml("AccessibleComputing", "#REDIRECT [[Computer accessibility]]", pid=10, redirect="Computer accessibility"),
    page_xml("Template:Infobox", "{{{1}}}", ns=10, pid=13),
    page_xml("Mercury", "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}", pid=14),
    page_xml("Apollo (disambiguation)", "Apollo may be: [[Apollo]]", pid=15),
    page_xml("Albedo", "'''Albedo''' is [[reflection]] &amp; more.", pid=16),
]


@pytest.fixture
def xml_file(tmp_path):
    p = tmp_path / "dump.xml"
    p.write_text(dump_xml(PAGES), encoding="utf8")
    return p


def test_iter_pages_plain_xml(xml_file):
    stats = DumpStats()
    pages = list(iter_pages(xml_file, stats=stats))
    assert [p.title for p in pages] == ["Anarchism", "Albedo"]
    assert pages[0] == Page("Anarchism", 0, 12, "'''Anarchism''' is a [[political philosophy]].", None)
    assert pages[1].text == "'''Albedo''' is [[reflection]] & more."  # XML entity decoded once
    assert stats.pages == 6 and stats.articles == 2 and stats.redirects == 1
    assert stats.disambiguation == 2 and stats.other_namespace == 1 and stats.bad_pages == 0
    assert stats.errors == []
    assert stats.to_dict()["articles"] == 2


def test_iter_pages_options(xml_file):
    with_red = list(iter_pages(xml_file, include_redirects=True))
    red = [p for p in with_red if p.redirect]
    assert [(p.title, p.redirect) for p in red] == [("AccessibleComputing", "Computer accessibility")]
    all_ns = list(iter_pages(xml_file, namespaces=None, skip_disambiguation=False))
    assert {p.title for p in all_ns} == {
        "Anarchism",
        "Template:Infobox",
        "Mercury",
        "Apollo (disambiguation)",
        "Albedo",
    }
    assert [p.ns for p in iter_pages(xml_file, namespaces=(10,))] == [10]


@pytest.mark.parametrize("version", ["0.8", "0.9", "0.10", "0.11"])
def test_export_versions_and_no_namespace(tmp_path, version):
    p = tmp_path / "d.xml"
    p.write_text(dump_xml(PAGES, version), encoding="utf8")
    assert [x.title for x in iter_pages(p)] == ["Anarchism", "Albedo"]
    bare = tmp_path / "bare.xml"
    bare.write_text("<mediawiki>" + "".join(PAGES) + "</mediawiki>", encoding="utf8")
    assert [x.title for x in iter_pages(bare)] == ["Anarchism", "Albedo"]


def test_redirect_from_text_without_redirect_element(tmp_path):
    p = tmp_path / "d.xml"
    p.write_text(dump_xml([page_xml("UK", "#Redirect [[united_Kingdom#History]]")]), encoding="utf8")
    pages = list(iter_pages(p, include_redirects=True))
    assert pages[0].redirect == "United Kingdom"


def test_xml_bz2(tmp_path):
    p = tmp_path / "d.xml.bz2"
    p.write_bytes(bz2.compress(dump_xml(PAGES).encode("utf8")))
    assert [x.title for x in iter_pages(p)] == ["Anarchism", "Albedo"]


def _multistream(tmp_path, pages, per_block=2):
    """A hand-made multistream dump: header stream, one bz2 stream per block of pages, footer stream."""
    out = io.BytesIO()
    index_lines = []
    out.write(bz2.compress(HEADER.format(v="0.10").encode("utf8")))
    blocks = []
    for i in range(0, len(pages), per_block):
        offset = out.tell()
        chunk = pages[i : i + per_block]
        out.write(bz2.compress("".join(x for _, x in chunk).encode("utf8")))
        blocks.append((offset, out.tell() - offset))
        for title, _ in chunk:
            index_lines.append(f"{offset}:{len(index_lines) + 1}:{title}")
    out.write(bz2.compress(b"</mediawiki>\n"))
    dump = tmp_path / "enwiki-multistream.xml.bz2"
    dump.write_bytes(out.getvalue())
    index = tmp_path / "enwiki-multistream-index.txt"
    index.write_text("\n".join(index_lines) + "\n", encoding="utf8")
    return dump, index, blocks


def test_multistream_blocks(tmp_path):
    pages = [(f"Page {i}", page_xml(f"Page {i}", f"Text [[link {i}]].", pid=i)) for i in range(1, 6)]
    dump, index, blocks = _multistream(tmp_path, pages)
    got = read_multistream_index(index)
    assert [o for o, _ in got] == [o for o, _ in blocks]
    assert got[-1][1] == -1 and got[0][1] == blocks[0][1]
    # every block independently, in any order
    seen = {}
    for offset, length in reversed(got):
        stats = DumpStats()
        seen[offset] = [p.title for p in iter_block_pages(dump, offset, length, stats=stats)]
        assert stats.errors == []
    assert [t for o, _ in got for t in seen[o]] == [f"Page {i}" for i in range(1, 6)]
    assert seen[got[1][0]] == ["Page 3", "Page 4"]
    # the whole file in one pass too
    assert [p.title for p in iter_pages(dump)] == [f"Page {i}" for i in range(1, 6)]
    # a .txt.bz2 index gives the same blocks
    zindex = tmp_path / "index.txt.bz2"
    zindex.write_bytes(bz2.compress(index.read_bytes()))
    assert read_multistream_index(zindex) == got


def test_multistream_block_with_header(tmp_path):
    """A first block that carries <mediawiki><siteinfo> (and a last one with </mediawiki>) still parses."""
    body = dump_xml(PAGES[:1])
    dump = tmp_path / "one.xml.bz2"
    dump.write_bytes(bz2.compress(body.encode("utf8")))
    assert [p.title for p in iter_block_pages(dump, 0, -1)] == ["Anarchism"]


def test_bad_index_and_offset(tmp_path):
    bad = tmp_path / "index.txt"
    bad.write_text("12:1:A\nnot-an-offset:2:B\n", encoding="utf8")
    with pytest.raises(NerbertError, match=r"index.txt \(line 2\)"):
        read_multistream_index(bad)
    dump = tmp_path / "d.xml.bz2"
    dump.write_bytes(bz2.compress(dump_xml(PAGES).encode("utf8")))
    with pytest.raises(NerbertError, match="outside the file"):
        list(iter_block_pages(dump, 10**9, -1))


def test_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "nope.xml.bz2"
    with pytest.raises(NerbertError, match="nope.xml.bz2"):
        iter_pages(missing)
    with pytest.raises(NerbertError, match="nope.xml.bz2"):
        collect_redirects([missing])


def test_malformed_xml_keeps_earlier_pages(tmp_path):
    p = tmp_path / "bad.xml"
    p.write_text(
        HEADER.format(v="0.10") + PAGES[0] + "  <page><title>Broken</title><ns>0</ns><id>3</i></page>\n" + PAGES[5],
        encoding="utf8",
    )
    stats = DumpStats()
    pages = list(iter_pages(p, stats=stats))
    assert [x.title for x in pages] == ["Anarchism"]
    assert len(stats.errors) == 1
    msg = stats.errors[0]
    assert "bad.xml (line " in msg and "malformed XML" in msg and "(the last: page 'Anarchism')" in msg


def test_non_utf8_page_skipped_and_counted(tmp_path):
    p = tmp_path / "latin1.xml"
    data = dump_xml([PAGES[0], page_xml("Bad bytes", "caf\x00", pid=5), PAGES[5]]).encode("utf8")
    data = data.replace(b"caf\x00", b"caf\xe9 au lait")
    p.write_bytes(data)
    stats = DumpStats()
    pages = list(iter_pages(p, stats=stats))
    assert [x.title for x in pages] == ["Anarchism", "Albedo"]
    assert stats.bad_pages == 1
    assert "latin1.xml (page 'Bad bytes'): invalid UTF-8" in stats.errors[0]


def test_valid_replacement_char_is_not_an_error(tmp_path):
    p = tmp_path / "ok.xml"
    p.write_text(dump_xml([page_xml("Specials", "The \ufffd character.")]), encoding="utf8")
    stats = DumpStats()
    assert [x.text for x in iter_pages(p, stats=stats)] == ["The \ufffd character."]
    assert stats.bad_pages == 0


def _many_pages(n, size=3000):
    import random

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    return [page_xml(f"Page {i}", " ".join(rng.choice(words) for _ in range(size // 6)), pid=i) for i in range(n)]


def test_truncated_bz2_keeps_pages_before(tmp_path):
    data = bz2.compress(dump_xml(_many_pages(1200)).encode("utf8"))  # several 900k bz2 blocks
    p = tmp_path / "cut.xml.bz2"
    p.write_bytes(data[: len(data) // 2])
    stats = DumpStats()
    pages = list(iter_pages(p, stats=stats))
    assert 0 < len(pages) < 1200
    assert [x.title for x in pages] == [f"Page {i}" for i in range(len(pages))]
    assert len(stats.errors) == 1
    assert "cut.xml.bz2: truncated .bz2" in stats.errors[0] and f"after {len(pages)} pages (the last: page '{pages[-1].title}')" in stats.errors[0]


def _peak_memory(path):
    tracemalloc.start()
    try:
        n = sum(1 for _ in iter_pages(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return n, peak


def test_memory_stays_flat(tmp_path):
    """Peak memory does not grow with the dump: 4x the pages, about the same peak (bounded by the chunk size)."""
    pages = _many_pages(2400, 4000)
    small, big = tmp_path / "small.xml", tmp_path / "big.xml"
    small.write_text(dump_xml(pages[:600]), encoding="utf8")
    big.write_text(dump_xml(pages), encoding="utf8")
    n_small, peak_small = _peak_memory(small)
    n_big, peak_big = _peak_memory(big)
    assert (n_small, n_big) == (600, 2400)
    assert big.stat().st_size > 10_000_000
    assert peak_big < 1.5 * peak_small + 1_000_000, (peak_small, peak_big)


def test_is_disambiguation():
    def page(title, text):
        return Page(title, 0, 1, text, None)

    for text in [
        "{{disambiguation}}",
        "{{Disambig}}",
        "{{dab}}",
        "{{hndis|name=Smith, John}}",
        "{{geodis}}",
        "{{ Disambiguation | geo }}",
        "{{Human name disambiguation}}",
        "{{Template:Disambiguation}}",
        "__DISAMBIG__",
    ]:
        assert is_disambiguation(page("X", "'''X''' may refer to:\n" + text)), text
    assert is_disambiguation(page("Mercury (disambiguation)", "text"))
    assert not is_disambiguation(page("Paris", "{{Infobox settlement|name=Paris}} '''Paris''' is a city. {{dablink}}"))
    assert not is_disambiguation(page("Dis", "{{Distinguish|Dab}} '''Dis''' is a Roman god."))


def test_collect_redirects(xml_file, tmp_path):
    other = tmp_path / "other.xml"
    other.write_text(dump_xml([page_xml("Uk", "#REDIRECT [[United_Kingdom]]", redirect="United_Kingdom")]))
    stats = DumpStats()
    assert collect_redirects([xml_file, other], stats=stats) == {
        "AccessibleComputing": "Computer accessibility",
        "Uk": "United Kingdom",
    }
    assert stats.redirects == 2


def test_stats_merge():
    a = DumpStats(pages=2, articles=1, errors=["x"])
    b = DumpStats(pages=3, redirects=1, errors=["y"])
    a.merge(b)
    assert (a.pages, a.articles, a.redirects, a.errors) == (5, 1, 1, ["x", "y"])


# --- the real dumps ---------------------------------------------------------------
def test_gensim_dump_counts(shared_data):
    path = shared_data / GENSIM
    if not path.exists():
        pytest.skip("gensim dump fragment absent")
    stats = DumpStats()
    pages = list(iter_pages(path, stats=stats))
    assert stats.pages == 206 and stats.redirects == 99 and stats.errors == []
    assert stats.articles + stats.disambiguation + stats.other_namespace == 107
    assert len(pages) == stats.articles > 90
    assert all(p.ns == 0 and p.redirect is None and p.text for p in pages)
    assert len(collect_redirects([path])) == 99


def test_all_real_dumps_read_cleanly(shared_data):
    paths = sorted((shared_data / "wikipedia").glob("*.bz2"))
    if not paths:
        pytest.skip("no real dumps")
    for path in paths:
        stats = DumpStats()
        pages = list(iter_pages(path, stats=stats))
        assert pages and stats.errors == [], (path, stats.errors)


def test_real_dump_cut_in_half(shared_data, tmp_path):
    path = shared_data / GENSIM
    if not path.exists():
        pytest.skip("gensim dump fragment absent")
    data = path.read_bytes()
    cut = tmp_path / "half.bz2"
    cut.write_bytes(data[: len(data) // 2])
    stats = DumpStats()
    pages = list(iter_pages(cut, stats=stats))
    full = [p.title for p in iter_pages(path)]
    assert 0 < len(pages) < len(full)
    assert [p.title for p in pages] == full[: len(pages)]
    assert len(stats.errors) == 1 and "half.bz2: truncated .bz2" in stats.errors[0]

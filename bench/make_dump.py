#!/usr/bin/env python
"""A synthetic Wikipedia dump of any size, made by recombining the real pages (issue 11).

Writes ``DIR/enwiki-synthetic-<N>-pages-articles-multistream.xml.bz2`` and its index
``DIR/enwiki-synthetic-<N>-pages-articles-multistream-index.txt.bz2`` in Wikimedia's
multistream layout: the ``<mediawiki>`` header with ``<siteinfo>`` in the first bz2 stream,
then one bz2 stream per ``--pages-per-block`` pages (100, as Wikimedia), then the footer; the
index has one ``offset:page_id:title`` line per page, where ``offset`` is the byte offset of
the page's stream. ``nerbert corpus build`` finds the index by its name.

The pages come from the real dumps in ``../shared/data/wikipedia`` (the articles of the four
files). Page ``i`` depends only on ``(seed, i)``, so the dump of N pages is the first N pages
of any larger one, and the same arguments give the same bytes:

- one page in ``--redirect-share`` (default 0.15) is a redirect: a new title redirecting to the
  title of a real article;
- every other page is an article with a new title (``<real title> (synthetic <i>)``) whose
  wikitext is the lead paragraph of a real article followed by paragraphs drawn from one to
  three real articles, shuffled (a "paragraph" is a block between blank lines; sections and
  headings travel with their blocks). Links, templates and references are kept as written, so
  links still point to real titles and the type index types them.

Usage (from the project root):
    python bench/make_dump.py --pages 100000 --output /tmp/synth --seed 0
"""

import argparse
import bz2
import json
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator, List, Sequence, Tuple
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NERBERT_SHARED_DATA", ROOT.parent / "shared" / "data"))

# the standard namespaces of English Wikipedia: WikiExtractor needs Template (10) declared
NAMESPACES = [(-2, "Media"), (-1, "Special"), (0, "")] + [
    (k, name) for base, subject in ((0, ""), (2, "User"), (4, "Wikipedia"), (6, "File"), (8, "MediaWiki"),
                                    (10, "Template"), (12, "Help"), (14, "Category"), (100, "Portal"), (828, "Module"))
    for k, name in ((base, subject), (base + 1, f"{subject} talk" if subject else "Talk")) if k != 0
]
HEADER = (
    """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <base>https://en.wikipedia.org/wiki/Main_Page</base>
    <generator>nerbert-spacy bench/make_dump.py</generator>
    <case>first-letter</case>
    <namespaces>
"""
    + "".join(
        f'      <namespace key="{k}" case="first-letter">{name}</namespace>\n' if name
        else f'      <namespace key="{k}" case="first-letter" />\n'
        for k, name in NAMESPACES
    )
    + """    </namespaces>
  </siteinfo>
"""
)
FOOTER = "</mediawiki>\n"

Source = Tuple[str, List[str]]  # title, paragraphs


def load_sources(folder: Path) -> List[Source]:
    """The articles of the real dumps in ``folder``: (title, paragraphs), in file then page order."""
    from nerbert_spacy.wikipedia.dump import iter_pages

    sources: List[Source] = []
    for dump in sorted(folder.glob("*.bz2")):
        for page in iter_pages(dump):
            paragraphs = [p for p in page.text.split("\n\n") if p.strip()]
            if paragraphs:
                sources.append((page.title, paragraphs))
    if not sources:
        raise SystemExit(f"error: no articles found in {folder}")
    return sources


def page_xml(title: str, page_id: int, text: str, redirect: str = "") -> str:
    redirect_xml = f"    <redirect title={quoteattr(redirect)} />\n" if redirect else ""
    return (
        f"  <page>\n    <title>{escape(title)}</title>\n    <ns>0</ns>\n    <id>{page_id}</id>\n{redirect_xml}"
        f"    <revision>\n      <id>{page_id}</id>\n      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f'      <text bytes="{len(text.encode("utf8"))}" xml:space="preserve">{escape(text)}</text>\n'
        "    </revision>\n  </page>\n"
    )


def make_page(i: int, seed: int, sources: Sequence[Source], redirect_share: float) -> Tuple[int, str, str, int]:
    """Page ``i``: (page id, title, page XML, wikitext bytes, 0 for a redirect); depends only
    on ``(seed, i)`` and the sources."""
    rng = random.Random(f"nerbert-synthetic|{seed}|{i}")
    page_id = i + 1
    base_title, base = sources[rng.randrange(len(sources))]
    if rng.random() < redirect_share:
        title = f"{base_title} (alias {i})"
        return page_id, title, page_xml(title, page_id, f"#REDIRECT [[{base_title}]]", redirect=base_title), 0
    picked = list(base[1:])
    for _ in range(rng.randint(0, 2)):
        picked.extend(sources[rng.randrange(len(sources))][1][1:])
    rng.shuffle(picked)
    paragraphs = [base[0]] + picked[: rng.randint(5, 22)]
    title = f"{base_title} (synthetic {i})"
    text = "\n\n".join(paragraphs)
    return page_id, title, page_xml(title, page_id, text), len(text.encode("utf8"))


_SOURCES: List[Source] = []


def _init(sources: List[Source]) -> None:
    global _SOURCES
    _SOURCES = sources


def make_block(args: Tuple[int, int, int, float]) -> Tuple[bytes, int, List[Tuple[int, str]], int, int]:
    """Pages ``start..stop-1`` as one bz2 stream: (compressed bytes, XML bytes, [(id, title)],
    redirects, article wikitext bytes)."""
    start, stop, seed, redirect_share = args
    pages = [make_page(i, seed, _SOURCES, redirect_share) for i in range(start, stop)]
    xml = "".join(p[2] for p in pages).encode("utf8")
    text_bytes = sum(p[3] for p in pages)
    return bz2.compress(xml), len(xml), [(p[0], p[1]) for p in pages], sum(1 for p in pages if not p[3]), text_bytes


def write_dump(
    n_pages: int, output: Path, *, seed: int = 0, pages_per_block: int = 100, redirect_share: float = 0.15,
    workers: int = 1, sources_dir: Path = SHARED / "wikipedia",
) -> dict:
    """Write the dump and its index; RETURNS their paths and sizes."""
    sources = load_sources(sources_dir)
    output.mkdir(parents=True, exist_ok=True)
    stem = f"enwiki-synthetic-{n_pages}-pages-articles-multistream"
    dump, index = output / f"{stem}.xml.bz2", output / f"{stem.replace('multistream', 'multistream-index')}.txt.bz2"
    tmp_dump, tmp_index = dump.with_name(dump.name + ".tmp"), index.with_name(index.name + ".tmp")
    jobs = [(s, min(s + pages_per_block, n_pages), seed, redirect_share) for s in range(0, n_pages, pages_per_block)]
    xml_bytes = len(HEADER.encode()) + len(FOOTER)
    redirects = wikitext_bytes = 0
    with open(tmp_dump, "wb") as f, bz2.open(tmp_index, "wt", encoding="utf8") as idx:
        f.write(bz2.compress(HEADER.encode("utf8")))
        blocks: Iterator[Tuple[bytes, int, List[Tuple[int, str]], int, int]]
        if workers > 1:
            pool = ProcessPoolExecutor(workers, initializer=_init, initargs=(sources,))
            blocks = pool.map(make_block, jobs, chunksize=4)
        else:
            pool = None
            _init(sources)
            blocks = map(make_block, jobs)
        for data, size, titles, n_redirects, n_text in blocks:
            offset = f.tell()
            f.write(data)
            xml_bytes += size
            redirects += n_redirects
            wikitext_bytes += n_text
            for page_id, title in titles:
                idx.write(f"{offset}:{page_id}:{title}\n")
        if pool is not None:
            pool.shutdown()
        f.write(bz2.compress(FOOTER.encode("utf8")))
    os.replace(tmp_dump, dump)
    os.replace(tmp_index, index)
    return {
        "dump": str(dump),
        "index": str(index),
        "pages": n_pages,
        "redirects": redirects,
        "xml_bytes": xml_bytes,
        "article_wikitext_bytes": wikitext_bytes,
        "bz2_bytes": dump.stat().st_size,
        "blocks": len(jobs),
        "sources": len(sources),
        "seed": seed,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, required=True, help="pages to write")
    parser.add_argument("--output", type=Path, required=True, help="folder for the dump and its index")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pages-per-block", type=int, default=100, help="pages per bz2 stream (Wikimedia: 100)")
    parser.add_argument("--redirect-share", type=float, default=0.15, help="share of redirect pages")
    parser.add_argument("--workers", type=int, default=1, help="processes compressing blocks (same bytes)")
    parser.add_argument("--sources", type=Path, default=SHARED / "wikipedia", help="folder of real dumps")
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    start = time.perf_counter()
    info = write_dump(
        args.pages, args.output, seed=args.seed, pages_per_block=args.pages_per_block,
        redirect_share=args.redirect_share, workers=args.workers, sources_dir=args.sources,
    )
    info["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())

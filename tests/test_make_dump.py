"""bench/make_dump.py: the synthetic multistream dump that the scale benchmarks build from is
read by the project's reader and carries the siteinfo that other extractors need."""

import bz2
import importlib.util
import re

import pytest
from helpers import ROOT

from nerbert_spacy.wikipedia.dump import iter_pages


@pytest.fixture(scope="module")
def make_dump():
    spec = importlib.util.spec_from_file_location("make_dump", ROOT / "bench" / "make_dump.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_dump_is_readable_and_declares_the_template_namespace(make_dump, shared_data, tmp_path):
    assert make_dump.main(["--pages", "40", "--output", str(tmp_path), "--pages-per-block", "10"]) == 0
    (dump,) = tmp_path.glob("*-multistream.xml.bz2")
    head = bz2.open(dump, "rt", encoding="utf8").read(4000)
    # WikiExtractor skips every page when the Template namespace (key 10) is not declared
    assert re.search(r'<namespace key="10"[^>]*>Template</namespace>', head)
    pages = list(iter_pages(dump, include_redirects=True, skip_disambiguation=False))
    assert len(pages) == 40
    articles = [p for p in pages if not p.redirect]
    assert 0 < len(pages) - len(articles) < 40  # some redirects, as in a real dump
    assert articles and all("[[" in p.text for p in articles)  # links kept, so typing has anchors
    # deterministic: the same seed writes the same bytes
    again = tmp_path / "again"
    make_dump.main(["--pages", "40", "--output", str(again), "--pages-per-block", "10"])
    assert (again / dump.name).read_bytes() == dump.read_bytes()

"""Wikipedia: stream pages from dumps, turn wikitext into text with anchors, split sentences."""

from .dump import (
    DumpStats,
    Page,
    collect_redirects,
    is_disambiguation,
    iter_block_pages,
    iter_pages,
    read_multistream_index,
)
from .sentences import split_sentences
from .wikitext import Anchor, WikitextError, normalize_title, wikitext_to_paragraphs

__all__ = [
    "Page",
    "DumpStats",
    "iter_pages",
    "iter_block_pages",
    "read_multistream_index",
    "collect_redirects",
    "is_disambiguation",
    "Anchor",
    "WikitextError",
    "normalize_title",
    "wikitext_to_paragraphs",
    "split_sentences",
]

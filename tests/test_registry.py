"""Every entry point declared in setup.py is installed, importable and registered under its name."""
import ast
import importlib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parent.parent / "setup.py"

# entry-point group -> name of the spaCy/thinc registry it feeds
GROUPS = {
    "spacy_factories": "factories",
    "spacy_architectures": "architectures",
    "spacy_readers": "readers",
    "spacy_callbacks": "callbacks",
    "spacy_scorers": "scorers",
    "spacy_misc": "misc",
    "spacy_loggers": "loggers",
    "spacy_batchers": "batchers",
    "thinc_layers": "layers",
}


def declared_entry_points():
    """(group, name, "module:function") for every entry point in setup.py."""
    tree = ast.parse(SETUP.read_text(encoding="utf8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            groups = ast.literal_eval(node.value)
            return [
                (group, *[part.strip() for part in line.split("=", 1)])
                for group, lines in groups.items()
                if group != "console_scripts"
                for line in lines
            ]
    raise AssertionError("setup.py declares no entry_points")


DECLARED = declared_entry_points()


def test_setup_declares_the_model_names():
    names = {(g, n) for g, n, _ in DECLARED}
    for expected in [
        ("spacy_factories", "bio_tagger"),
        ("spacy_architectures", "nerbert.BioTagger.v1"),
        ("spacy_readers", "nerbert.ShardedCorpus.v1"),
        ("spacy_callbacks", "nerbert.init_from_pretrained.v1"),
        ("spacy_scorers", "nerbert.bio_scorer.v1"),
    ]:
        assert expected in names


@pytest.mark.parametrize("group,name,target", DECLARED, ids=[f"{g}:{n}" for g, n, _ in DECLARED])
def test_entry_point_resolves(group, name, target):
    import spacy
    from spacy.language import Language

    installed = {ep.name: ep.value for ep in entry_points(group=group)}
    assert installed.get(name) == target, f"{group}:{name} not installed (re-run pip install -e .)"
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    assert callable(func)
    if group == "spacy_factories":
        assert Language.has_factory(name)
        nlp = spacy.blank("en")
        assert nlp.get_factory_meta(name).factory == name
    else:
        registry = getattr(spacy.util.registry, GROUPS[group])
        assert registry.get(name) is func


def test_layer_registered_for_configs():
    import spacy

    from nerbert_spacy.pipeline.layers import reduce_first_safe

    assert spacy.util.registry.layers.get("nerbert.reduce_first.v1") is reduce_first_safe

"""Label sets: the paper's 315, the 212-type and 4-type compressions, and the typing rule."""

import pytest

from nerbert_spacy.dbpedia.ontology import Ontology
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.labels import (
    ENTITY,
    LABEL_SETS,
    STAND_IN_PARENTS,
    compression_map,
    get_label_set,
    label_parent_map,
    paper_labels,
)

# A small ontology whose class names match some of the paper's labels.
PARENTS = {
    "Place": [],
    "PopulatedPlace": ["Place"],
    "Settlement": ["PopulatedPlace"],
    "City": ["Settlement"],
    "Village": ["Settlement"],
    "Capital": ["City"],  # not a label
    "Agent": [],
    "Person": ["Agent"],
    "Athlete": ["Person"],
    "SoccerPlayer": ["Athlete"],
    "Rower": ["Athlete"],  # not a label
    "Organisation": ["Agent"],
    "SportsTeam": ["Organisation"],
    "Event": [],
    "SocietalEvent": ["Event"],
    "SportsEvent": ["SocietalEvent"],
    "TennisTournament": ["SportsEvent"],  # not in the paper's list under this name
    "GolfTournament": ["SportsEvent"],
    "Award": [],
    "ChristianBishop": ["Person"],
}


@pytest.fixture(scope="module")
def onto():
    return Ontology(PARENTS, source="inline")


@pytest.fixture(scope="module")
def onto_2016(shared_data):
    path = shared_data / "dbpedia" / "dbpedia_2016-10.owl"
    if not path.exists():
        pytest.skip("2016 ontology absent")
    return Ontology.load(path)


def test_paper_labels():
    labels = paper_labels()
    assert len(labels) == 315 == len(set(labels))
    assert ENTITY in labels and "populatedplace" in labels and "location" in labels
    assert all(lab == ENTITY or lab == Ontology.key(lab) for lab in labels)


def test_label_for_315(onto):
    ls = get_label_set("315", onto)
    assert len(ls.labels) == 315
    assert ls.label_for(["City"]) == "city"
    assert ls.label_for(["Capital"]) == "city"  # nearest listed ancestor
    assert ls.label_for(["Settlement", "City", "PopulatedPlace"]) == "city"  # most specific
    assert ls.label_for(["Rower"]) == "athlete"
    assert ls.label_for(["Place"]) == "location"  # dbo:Place counts as the paper's "location"
    assert ls.label_for(["Location"]) == "location"  # not an ontology class: matches its own label
    assert ls.label_for(["Location", "City"]) == "city"
    assert ls.label_for(["FootballTeam"]) == "footballteam"
    assert ls.label_for(["Award"]) == "award"
    assert ls.label_for([]) == ENTITY
    assert ls.label_for(["Unknown", "AlsoUnknown"]) == ENTITY
    assert ls.label_for(["Agent"]) == ENTITY  # "agent" is not one of the 315


def test_four_types(onto):
    ls = get_label_set("4", onto)
    assert ls.labels == ["person", "location", "organisation", ENTITY]
    assert ls.label_for(["SoccerPlayer"]) == "person"
    assert ls.label_for(["Capital"]) == "location"
    assert ls.label_for(["Location"]) == "location"
    assert ls.label_for(["SportsTeam"]) == "organisation"
    assert ls.label_for(["FootballTeam"]) == "organisation"  # via its stand-in parent SportsTeam
    assert ls.label_for(["Archbishop"]) == "person"  # missing from this ontology: stand-in ChristianBishop
    assert ls.label_for(["GolfTournament"]) == ENTITY and ls.label_for(["Award"]) == ENTITY
    assert ls.label_for([]) == ENTITY
    m = compression_map("4", onto)
    assert set(m) == set(paper_labels()) and set(m.values()) <= set(ls.labels)


def test_label_tree(onto):
    parents = label_parent_map(onto)
    assert parents["city"] == "settlement" and parents["settlement"] == "populatedplace"
    assert parents["populatedplace"] == "location" and parents["location"] is None
    assert parents["golftournament"] == "sportsevent" and parents["sportsevent"] == "event"
    assert parents["footballplayer"] == "athlete"  # stand-in parent Athlete
    assert parents["award"] is None
    assert ENTITY not in parents


def heap_ontology():
    """Every paper label is a class; label i's parent is label (i - 1) // 2 (a binary heap)."""
    labels = [lab for lab in paper_labels() if lab != ENTITY]
    return Ontology({lab: ([labels[(i - 1) // 2]] if i else []) for i, lab in enumerate(labels)}, source="heap")


def test_212_folds_deepest_first():
    onto = heap_ontology()
    labels = [lab for lab in paper_labels() if lab != ENTITY]
    depth = {lab: (i + 1).bit_length() - 1 for i, lab in enumerate(labels)}
    expected_folded = sorted(labels[1:], key=lambda lab: (-depth[lab], lab))[:103]
    m = compression_map("212", onto)
    assert set(m) == set(paper_labels())
    assert len(set(m.values())) == 212
    assert {lab for lab, t in m.items() if lab != t} == set(expected_folded)
    # a folded label goes to its nearest ancestor that stays
    for lab in expected_folded:
        i = labels.index(lab)
        parent = labels[(i - 1) // 2]
        assert m[lab] == (parent if parent not in expected_folded else m[parent])
    assert m[ENTITY] == ENTITY
    assert all(m[v] == v for v in m.values())  # idempotent: set labels map to themselves
    ls = get_label_set("212", onto)
    assert len(ls.labels) == 212 and ENTITY in ls.labels
    assert ls.label_for([labels[300]]) == m[labels[300]]


def test_unknown_label_set(onto):
    with pytest.raises(NerbertError, match="unknown label set '300'.*315, 212, 4"):
        get_label_set("300", onto)
    with pytest.raises(NerbertError, match="unknown label set"):
        compression_map("five", onto)
    ls = get_label_set("315", onto)
    with pytest.raises(NerbertError, match="not one of the paper's 315 labels"):
        ls.compress("rower")


def test_212_needs_enough_hierarchy(onto):
    with pytest.raises(NerbertError, match=r"inline: the ontology gives only \d+ labels"):
        compression_map("212", onto)
    flat = Ontology({"Person": []}, source="flat.owl")
    with pytest.raises(NerbertError, match="flat.owl.*212-type compression"):
        compression_map("212", flat)


# --- the real 2016 ontology ----------------------------------------------------
def test_real_212_has_exactly_212(onto_2016):
    m = compression_map("212", onto_2016)
    targets = set(m.values())
    assert len(targets) == 212 and ENTITY in targets
    assert set(m) == set(paper_labels())
    assert all(m[t] == t for t in targets)
    # the paper's example: the sports tournaments merge into their sports-event parent
    for lab in ("tennistournament", "golftournament", "soccertournament"):
        assert m[lab] == "sportsevent"
    # every folded label goes to one of its own ancestors in the label tree
    parents = label_parent_map(onto_2016)
    for lab, target in m.items():
        if lab != target:
            p = parents[lab]
            while p is not None and p != target:
                p = parents[p]
            assert p == target, (lab, target)


def test_real_212_is_deterministic(onto_2016):
    again = Ontology.from_dict(onto_2016.to_dict())  # a fresh object: no cache shared
    assert compression_map("212", again) == compression_map("212", onto_2016)


def test_real_four_types(onto_2016):
    m = compression_map("4", onto_2016)
    assert set(m.values()) == {"person", "location", "organisation", ENTITY}
    assert m["bodyofwater"] == "location" and m["award"] == ENTITY  # the paper's examples
    assert m["soccerplayer"] == "person" and m["city"] == "location" and m["band"] == "organisation"
    assert m["location"] == "location" and m["footballteam"] == "organisation" and m["footballplayer"] == "person"
    assert m["archbishop"] == "person"


def test_real_label_sets_cover_all_classes(onto_2016):
    for name in LABEL_SETS:
        ls = get_label_set(name, onto_2016)
        assert len(ls.labels) == int(name)
        for cls in sorted(onto_2016.classes):
            assert ls.label_for([cls]) in ls.labels


def test_current_ontology_also_212(shared_data):
    path = shared_data / "dbpedia" / "dbpedia_current.owl"
    if not path.exists():
        pytest.skip("current ontology absent")
    onto = Ontology.load(path)
    assert len(set(compression_map("212", onto).values())) == 212
    assert set(STAND_IN_PARENTS) - {"location", "footballteam", "footballplayer"} <= {
        Ontology.key(c) for c in onto.classes
    }

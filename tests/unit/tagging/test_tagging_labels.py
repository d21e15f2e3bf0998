"""Label post-processing: the shipped hierarchy, rules, synonyms merged, floor, top-k, roll-up."""

from __future__ import annotations

import numpy as np
import pytest

from pixtract.tagging.config import Settings
from pixtract.tagging.domain.labels import (
    ClassInfo,
    Label,
    LabelHierarchy,
    LabelRule,
    LabelRules,
    labels_from_probabilities,
    person_labels,
)
from pixtract.tagging.domain.places import Location, place_labels

SETTINGS = Settings()
HIERARCHY = LabelHierarchy.load(SETTINGS.labels.hierarchy_path)
RULES = LabelRules.load(SETTINGS.labels.rules_path)


def _index(name: str) -> int:
    return next(i for i, c in enumerate(HIERARCHY.classes) if c.name == name)


def _probabilities(**named: float) -> np.ndarray:
    p = np.zeros(len(HIERARCHY), dtype=np.float32)
    for name, value in named.items():
        p[_index(name.replace("_", " "))] = value
    return p


def test_the_shipped_hierarchy_has_every_imagenet_class_with_wordnet_parents() -> None:
    assert len(HIERARCHY) == 1000
    tabby = HIERARCHY.classes[281]
    assert tabby.name == "tabby cat"
    assert tabby.parents[:3] == ("domestic cat", "cat", "feline")
    assert "animal" in tabby.parents
    assert "entity" not in tabby.parents
    assert HIERARCHY.classes[967] == ClassInfo("espresso", ("coffee", "beverage", "food"))
    assert all(c.name not in c.parents for c in HIERARCHY.classes)


def test_every_rule_names_a_class_or_a_renamed_label() -> None:
    names = {c.name for c in HIERARCHY.classes}
    renamed = {rule.name for rule in RULES.labels.values() if rule.name}
    assert set(RULES.labels) <= names | renamed
    assert RULES.fallback == "Objects"
    assert RULES.people == "People"
    assert RULES.documents["receipt"] == "Receipts"


def test_synonyms_merge_and_add_up_above_the_floor() -> None:
    # The cat photo: ImageNet splits one tabby into "tiger cat" and "tabby cat".
    labels = labels_from_probabilities(
        _probabilities(tiger_cat=0.38, Egyptian_Mau=0.37, tabby_cat=0.16, lynx=0.02), HIERARCHY, RULES
    )
    assert [(lb.name, lb.confidence) for lb in labels] == [("tabby cat", 0.54), ("Egyptian Mau", 0.37)]
    assert labels[0].parents[:2] == ("domestic cat", "cat")


def test_rules_drop_noise_and_replace_misleading_parents() -> None:
    labels = labels_from_probabilities(
        _probabilities(balloon=0.5, window_screen=0.3, wool=0.9, menu=0.2), HIERARCHY, RULES
    )
    assert [(lb.name, lb.parents) for lb in labels] == [("balloon", ("decoration",)), ("menu", ("document",))]


def test_floor_and_top_k_can_be_set() -> None:
    p = _probabilities(espresso=0.5, tea_cup=0.2, coffee_mug=0.12, consomme=0.1, eggnog=0.08)
    assert [lb.name for lb in labels_from_probabilities(p, HIERARCHY, RULES)] == ["espresso", "cup"]
    assert len(labels_from_probabilities(p, HIERARCHY, RULES, floor=0.05)) == 5
    assert [lb.name for lb in labels_from_probabilities(p, HIERARCHY, RULES, floor=0.05, top_k=2)] == [
        "espresso",
        "cup",
    ]


def test_merges_work_on_a_toy_hierarchy_too() -> None:
    hierarchy = LabelHierarchy((ClassInfo("a", ("x",)), ClassInfo("b", ("y",)), ClassInfo("c", ())))
    rules = LabelRules(floor=0.2, labels={"b": LabelRule(name="a"), "c": LabelRule(min_confidence=0.9)})
    labels = labels_from_probabilities(np.array([0.15, 0.15, 0.7]), hierarchy, rules)
    assert labels == [Label("a", 0.3, ("x",))]


def test_faces_become_person_or_people() -> None:
    assert person_labels([]) == []
    assert person_labels([0.93]) == [Label("person", 0.93, ("people",))]
    assert [lb.name for lb in person_labels([0.8, 0.95])] == ["people"]
    assert person_labels([0.8, 0.95])[0].confidence == 0.95


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (None, []),
        (Location(1, 2), []),
        (
            Location(59.3, 18.1, place="Solna", country="Sweden", region="Stockholm"),
            [
                Label("Solna", 1.0, ("Stockholm", "Sweden")),
                Label("Stockholm", 1.0, ("Sweden",)),
                Label("Sweden", 1.0, ()),
            ],
        ),
        (
            Location(59.3, 18.1, place="Stockholm", country="Sweden", region="Stockholm"),
            [Label("Stockholm", 1.0, ("Sweden",)), Label("Sweden", 1.0, ())],
        ),
    ],
)
def test_places_become_labels_with_wider_places_as_parents(location: Location | None, expected: list[Label]) -> None:
    assert place_labels(location) == expected

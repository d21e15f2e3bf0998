"""What a classifier says an image shows, turned into the labels users see.

A classifier answers a probability for each of its classes (ImageNet-1k here). The
hierarchy gives each class a display name and its WordNet hypernyms, nearest first; the
rules (a file like PhotoPrism's rules.yml) rename or merge synonyms, drop classes that are
mostly noise, replace misleading hypernym chains, and set a confidence floor. Merged
classes add up their probabilities: "tiger cat" and "tabby cat" are one label.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml
from numpy.typing import NDArray

# Classes looked at per image before rules and the floor: merged synonyms can lift a class
# from below the top-k into it, so look a little deeper than the labels kept.
CANDIDATES = 20


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float
    # Hypernym names, nearest first.
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassInfo:
    name: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class LabelHierarchy:
    """The classifier's classes in output order."""

    classes: tuple[ClassInfo, ...]

    @classmethod
    def load(cls, path: Path) -> LabelHierarchy:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(ClassInfo(str(c["name"]), tuple(str(p) for p in c["parents"])) for c in raw["classes"]))

    def __len__(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class LabelRule:
    name: str | None = None
    drop: bool = False
    # Below this the label is dropped even when above the global floor.
    min_confidence: float | None = None
    # Replaces the WordNet chain ("balloon" is an aircraft there, a party balloon in photos).
    parents: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LabelRules:
    floor: float = 0.1
    top_k: int = 5
    labels: Mapping[str, LabelRule] = field(default_factory=dict)
    # Category name → the label names and hypernyms that put a label into it, in order of precedence.
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Category name → {label name or hypernym: a more specific name for the group ("Cats")}.
    specific_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # OCR document type → category ("receipt" → "Receipts").
    documents: Mapping[str, str] = field(default_factory=dict)
    # Categories that a document category replaces (ImageNet calls a receipt a "menu").
    replaced_by_documents: tuple[str, ...] = ()
    # The category of images with labels but no other category.
    fallback: str | None = None
    # The category of images with faces.
    people: str | None = None

    @classmethod
    def load(cls, path: Path) -> LabelRules:
        return cls.parse(yaml.safe_load(path.read_text(encoding="utf-8")))

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> LabelRules:
        labels = {
            str(name): LabelRule(
                name=rule.get("name"),
                drop=bool(rule.get("drop", False)),
                min_confidence=rule.get("min_confidence"),
                parents=tuple(rule["parents"]) if "parents" in rule else None,
            )
            for name, rule in (raw.get("labels") or {}).items()
        }
        return cls(
            floor=float(raw.get("floor", 0.1)),
            top_k=int(raw.get("top_k", 5)),
            labels=labels,
            categories={str(k): tuple(str(v) for v in vs) for k, vs in (raw.get("categories") or {}).items()},
            specific_names={
                str(k): {str(a): str(b) for a, b in v.items()} for k, v in (raw.get("specific_names") or {}).items()
            },
            documents={str(k): str(v) for k, v in (raw.get("documents") or {}).items()},
            replaced_by_documents=tuple(raw.get("replaced_by_documents") or ()),
            fallback=raw.get("fallback"),
            people=raw.get("people"),
        )


def labels_from_probabilities(
    probabilities: NDArray[np.floating[Any]],
    hierarchy: LabelHierarchy,
    rules: LabelRules,
    *,
    floor: float | None = None,
    top_k: int | None = None,
) -> list[Label]:
    """The labels one image gets: rules applied, synonyms merged, above the floor, best first."""
    floor = rules.floor if floor is None else floor
    top_k = rules.top_k if top_k is None else top_k
    order = np.argsort(-probabilities, kind="stable")[:CANDIDATES]
    merged: dict[str, Label] = {}
    for index in order:
        info = hierarchy.classes[int(index)]
        rule = rules.labels.get(info.name, LabelRule())
        if rule.drop:
            continue
        name = rule.name or info.name
        # A renamed class takes the chain of the class it was renamed to when that has a rule too.
        target = rules.labels.get(name)
        parents = rule.parents if rule.parents is not None else (target.parents if target and target.parents else None)
        confidence = float(probabilities[index])
        seen = merged.get(name)
        if seen is None:
            merged[name] = Label(name, confidence, parents if parents is not None else info.parents)
        else:
            merged[name] = Label(name, seen.confidence + confidence, seen.parents)
    kept = []
    for label in merged.values():
        rule = rules.labels.get(label.name, LabelRule())
        minimum = max(floor, rule.min_confidence or 0.0)
        if label.confidence >= minimum:
            kept.append(Label(label.name, min(1.0, round(label.confidence, 4)), label.parents))
    kept.sort(key=lambda lb: (-lb.confidence, lb.name))
    return kept[:top_k]


def softmax_top(probabilities: NDArray[np.floating[Any]], hierarchy: LabelHierarchy, k: int) -> list[tuple[str, float]]:
    """The raw top-k class names and probabilities, no rules: for benchmarks and debugging."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(hierarchy.classes[int(i)].name, float(probabilities[i])) for i in order]


def person_labels(faces: Sequence[float]) -> list[Label]:
    """ "person" for one face, "people" for more, with the best face's confidence."""
    if not faces:
        return []
    confidence = round(max(faces), 4)
    if len(faces) == 1:
        return [Label("person", confidence, ("people",))]
    return [Label("people", confidence, ("person", "group"))]


@dataclass(frozen=True)
class LabelRequest:
    """What a label source may look at: the classifier's input, or the bytes and where they are."""

    tensor: NDArray[np.float32] | None
    data: bytes
    bucket: str
    key: str


class LabelSource(Protocol):
    version: str

    async def labels(self, request: LabelRequest) -> list[Label]: ...

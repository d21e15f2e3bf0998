"""What a classifier says an image shows. The classifier itself (EfficientNet-Lite0 with the
WordNet hierarchy) comes in a later issue; until then every image has no labels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float
    # Hypernym names, nearest first.
    parents: tuple[str, ...] = ()

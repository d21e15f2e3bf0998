from __future__ import annotations

import pytest

from tests.unit.tagging.fakes import InMemoryCategoryStore


@pytest.fixture
def store() -> InMemoryCategoryStore:
    return InMemoryCategoryStore()

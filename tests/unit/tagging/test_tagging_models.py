"""The real models on scikit-image's sample photos: labels, faces, categories; the model check."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from pixtract.tagging.adapters.face_detector import YuFaceDetector
from pixtract.tagging.adapters.onnx_classifier import ModelMismatch, OnnxClassifier, verify_model
from pixtract.tagging.config import LabelSettings, Settings
from pixtract.tagging.consumers.uploaded import TaggingTools
from pixtract.tagging.domain.analysis import analyse_image
from pixtract.tagging.domain.categories import categorise
from pixtract.tagging.domain.labels import LabelRequest, person_labels
from pixtract.tagging.pipeline import current_model_version, tagging_tools

SETTINGS = Settings()


def sample_jpeg(name: str) -> bytes:
    pixels = getattr(skimage.data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    out = io.BytesIO()
    Image.fromarray(pixels[:, :, :3]).save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


@pytest.fixture(scope="module")
async def tools(executor: ThreadPoolExecutor) -> AsyncIterator[TaggingTools]:
    async with tagging_tools(SETTINGS, executor) as built:
        yield built


async def _tag(tools: TaggingTools, name: str) -> tuple[list[str], int, tuple[str, ...]]:
    data = sample_jpeg(name)
    analysis = analyse_image(data, max_pixels=10**8, faces=tools.faces)
    assert tools.labels is not None
    labels = await tools.labels.labels(LabelRequest(analysis.tensor, data, "media", "k"))
    labels += person_labels([f.confidence for f in analysis.faces])
    categorisation = categorise(labels, len(analysis.faces), "", tools.rules)
    return [lb.name for lb in labels], len(analysis.faces), categorisation.categories


async def test_the_cat_is_a_cat_among_animals(tools: TaggingTools) -> None:
    names, faces, categories = await _tag(tools, "chelsea")
    assert names[0] in {"tabby cat", "Egyptian Mau"}
    assert faces == 0
    assert categories == ("Animals",)


async def test_coffee_is_espresso_and_food(tools: TaggingTools) -> None:
    names, faces, categories = await _tag(tools, "coffee")
    assert names[0] == "espresso"
    assert (faces, categories) == (0, ("Food & Drink",))


async def test_the_astronaut_has_one_face_and_is_a_person(tools: TaggingTools) -> None:
    names, faces, categories = await _tag(tools, "astronaut")
    assert faces == 1
    assert "person" in names
    assert categories[0] == "People"


def test_face_boxes_are_in_original_pixels() -> None:
    detector = YuFaceDetector()
    small = analyse_image(sample_jpeg("astronaut"), max_pixels=10**8, faces=detector)
    [face] = small.faces
    assert 150 < face.x0 < face.x1 < 300
    assert 30 < face.y0 < face.y1 < 220
    assert face.confidence > 0.8
    # The same photo at twice the size: the box doubles with it.
    big = Image.open(io.BytesIO(sample_jpeg("astronaut"))).resize((1024, 1024))
    out = io.BytesIO()
    big.save(out, format="JPEG")
    [scaled] = analyse_image(out.getvalue(), max_pixels=10**8, faces=detector).faces
    assert scaled.x0 == pytest.approx(2 * face.x0, abs=12)
    assert scaled.x1 == pytest.approx(2 * face.x1, abs=12)


@pytest.mark.parametrize("name", ["chelsea", "coffee", "hubble_deep_field"])
def test_no_faces_in_photos_without_people(name: str) -> None:
    assert analyse_image(sample_jpeg(name), max_pixels=10**8, faces=YuFaceDetector()).faces == ()


def test_the_model_file_is_checked_against_its_sha256(tmp_path: Path) -> None:
    model = SETTINGS.labels.model_path
    assert verify_model(model) == model.with_name(model.name + ".sha256").read_text().split()[0]
    assert current_model_version(SETTINGS).startswith("tagging-2+efficientnet-lite0-")

    swapped = tmp_path / model.name
    swapped.symlink_to(model)
    (tmp_path / (model.name + ".sha256")).write_text(f"{'0' * 64}  {model.name}\n")
    with pytest.raises(ModelMismatch, match="expected 0000"):
        OnnxClassifier(swapped)
    with pytest.raises(ModelMismatch, match="cannot check"):
        verify_model(tmp_path / "missing.onnx")


async def test_the_service_refuses_to_start_with_a_mismatching_model(tmp_path: Path) -> None:
    model = SETTINGS.labels.model_path
    swapped = tmp_path / model.name
    swapped.symlink_to(model)
    (tmp_path / (model.name + ".sha256")).write_text(f"{'f' * 64}  {model.name}\n")
    settings = Settings(labels=LabelSettings(model_path=swapped))
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(ModelMismatch):
        async with tagging_tools(settings, pool):
            pass

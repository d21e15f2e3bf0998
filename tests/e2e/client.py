"""A black-box client of the public API: knows only the base URL."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from PIL import Image, ImageDraw, ImageFont

READY_TIMEOUT_S = 180.0


class PixtractClient:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30.0)
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.email = ""
        self.password = ""
        self.user_id = ""

    def close(self) -> None:
        self.http.close()

    @property
    def auth(self) -> dict[str, str]:
        assert self.token, "sign in first"
        return {"Authorization": f"Bearer {self.token}"}

    def sign_up(self) -> dict[str, Any]:
        email = f"e2e-{uuid.uuid4().hex[:12]}@example.org"
        password = f"correct horse {uuid.uuid4().hex[:8]} battery"
        registered = self.http.post("/api/v1/auth/register", json={"email": email, "password": password, "name": "E2E"})
        assert registered.status_code == 201, registered.text
        self.email, self.password = email, password
        self.user_id = str(registered.json()["id"])
        self.log_in()
        return dict(registered.json())

    def log_in(self) -> dict[str, Any]:
        """A new session: the access token becomes this client's, and so does the refresh token."""
        login = self.http.post("/api/v1/auth/login", json={"email": self.email, "password": self.password})
        assert login.status_code == 200, login.text
        pair = dict(login.json())
        self.token, self.refresh_token = pair["access_token"], pair["refresh_token"]
        return pair

    def upload(self, *files: tuple[str, bytes, str]) -> httpx.Response:
        return self.http.post(
            "/api/v1/images",
            files=[("files", (name, data, content_type)) for name, data, content_type in files],
            headers=self.auth,
        )

    def image(self, image_id: str) -> httpx.Response:
        return self.http.get(f"/api/v1/images/{image_id}", headers=self.auth)

    def wait_until(
        self, image_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = READY_TIMEOUT_S
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.image(image_id)
            assert response.status_code == 200, response.text
            body = response.json()
            if done(body):
                return body
            assert body["state"] != "failed", body
            time.sleep(0.25)
        raise AssertionError(f"image {image_id} did not get there in {timeout}s; last seen: {body}")

    def wait_ready(self, image_id: str, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        return self.wait_until(image_id, lambda body: body["state"] == "ready", timeout)

    def search(self, q: str) -> dict[str, Any]:
        response = self.http.get("/api/v1/search", params={"q": q}, headers=self.auth)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def search_ids(self, q: str) -> list[str]:
        return [hit["image_id"] for hit in self.search(q)["items"]]


def text_png(lines: list[str], size: tuple[int, int] = (900, 320)) -> bytes:
    """A PNG with rendered text (Pillow's bundled font, so no system fonts are needed) and EXIF."""
    image = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    for n, line in enumerate(lines):
        draw.text((30, 30 + n * 70), line, fill=(20, 20, 30), font=font)
    draw.rectangle((size[0] - 120, size[1] - 90, size[0] - 30, size[1] - 30), fill=(200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Pixtract Labs"  # Make
    exif[0x0110] = "E2E Camera"  # Model
    exif[0x0132] = "2025:07:14 10:30:00"  # DateTime
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif)
    return out.getvalue()


def photo_jpeg(seed: int) -> bytes:
    """A small JPEG with no text: coloured bands that differ per seed."""
    image = Image.new("RGB", (320, 240), (40 + seed * 30 % 200, 120, 200 - seed * 20 % 150))
    draw = ImageDraw.Draw(image)
    draw.ellipse((80, 40, 240, 200), fill=(30, 160 + seed % 90, 60))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()

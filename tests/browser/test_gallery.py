"""The web gallery in a real browser, against the whole system: sign up, upload, wait for
ready, search, look at an image, categories, download, delete, API keys, errors, sessions.

Each screen is saved under test-artifacts/browser/ for a person to look at.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import FilePayload, Locator, Page, Route, ViewportSize, expect

from tests.e2e.client import photo_jpeg, text_png
from tests.e2e.test_tagging import chelsea_jpeg

READY_TIMEOUT_MS = 180_000
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "a long browser passphrase 42"
NOTES = text_png(["Lighthouse keeper notes", "Invoice total 42.50 EUR"])


def gps_jpeg() -> bytes:
    """A blue photo taken, says its EXIF, at the Eiffel Tower."""
    image = Image.new("RGB", (480, 320), (30, 90, 200))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.6), 3: "E", 4: (2.0, 17.0, 40.2)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif)
    return out.getvalue()


def payload(name: str, data: bytes, mime: str) -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


def shot(page: Page, artifacts: Path, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=full_page)


def sign_up(page: Page) -> str:
    email = f"browser-{uuid.uuid4().hex[:10]}@example.org"
    page.goto("/signup")
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Name").fill("Browser Test")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Your gallery", exact=True)).to_be_visible()
    return email


def drop_files(page: Page, files: list[tuple[str, bytes, str]]) -> None:
    """Drags files from outside the browser onto the page, as a person would."""
    page.evaluate(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data, type] of files) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type }));
            }
            for (const kind of ["dragenter", "dragover", "drop"]) {
                const event = new DragEvent(kind, { bubbles: true, cancelable: true, dataTransfer: transfer });
                document.body.dispatchEvent(event);
            }
        }""",
        [[name, base64.b64encode(data).decode(), mime] for name, data, mime in files],
    )


def search_for(page: Page, query: str) -> None:
    box = page.get_by_role("combobox", name="Search your images")
    box.fill(query)
    box.press("Enter")
    expect(page.get_by_role("heading", name="Search results")).to_be_visible()


def tile(page: Page, filename: str) -> Locator:
    return page.locator(f'.timeline a.tile[title="{filename}"]')


def test_gallery_from_sign_up_to_delete(page: Page, artifacts: Path) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, artifacts, "01-sign-in")

    sign_up(page)
    expect(page.get_by_role("heading", name="Your gallery is empty")).to_be_visible()
    expect(page.get_by_test_id("categories-empty")).to_be_visible()
    shot(page, artifacts, "02-empty-gallery")

    # Three images and a text file through the picker: the text file is refused, with the reason.
    page.get_by_test_id("upload-input").set_input_files(
        [
            payload("notes.png", NOTES, "image/png"),
            payload("eiffel.jpg", gps_jpeg(), "image/jpeg"),
            payload("photo.jpg", photo_jpeg(3), "image/jpeg"),
            payload("shopping.txt", b"milk, eggs, bread\n", "text/plain"),
        ]
    )
    panel = page.locator(".upload-panel")
    expect(panel.locator('.upload-item[data-status="uploaded"]')).to_have_count(3)
    refused = panel.locator('.upload-item[data-status="rejected"]')
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("shopping.txt")
    expect(refused).to_contain_text("not a supported image")

    # New images appear at the top of the timeline and follow their processing to the end.
    tiles = page.locator(".timeline a.tile")
    expect(tiles).to_have_count(3)
    shot(page, artifacts, "03-uploaded-processing")
    expect(page.locator(".timeline a.tile--processing")).to_have_count(0, timeout=READY_TIMEOUT_MS)
    expect(page.locator(".timeline a.tile--ready")).to_have_count(3)
    expect(panel).to_contain_text("Uploaded, ready")
    # Thumbnails arrive through object URLs, never with the token in a URL.
    expect(page.locator(".timeline a.tile img")).to_have_count(3)
    for src in page.locator(".timeline a.tile img").evaluate_all("(imgs) => imgs.map((i) => i.src)"):
        assert src.startswith("blob:"), src
    # Alt text says what the image shows: its labels, or else the start of its text.
    notes_alt = tile(page, "notes.png").locator("img")
    expect(notes_alt).not_to_have_attribute("alt", "notes.png")
    alt = notes_alt.get_attribute("alt") or ""
    assert alt.startswith("Text: Lighthouse keeper notes") or not alt.startswith("Text:"), alt
    expect(page.locator(".month__title")).to_have_count(1)
    shot(page, artifacts, "04-timeline-ready")

    # The same file dropped again is recognised as a duplicate.
    drop_files(page, [("notes-again.png", NOTES, "image/png")])
    duplicate = panel.locator('.upload-item[data-status="duplicate"]')
    expect(duplicate).to_contain_text("Already in your gallery")
    expect(tiles).to_have_count(3)
    shot(page, artifacts, "05-upload-panel-duplicate")
    panel.get_by_role("button", name="Close the upload list").click()
    expect(panel).to_have_count(0)

    # Search by a word of the text: the snippet marks it.
    search_for(page, "lighthouse")
    hits = page.get_by_test_id("search-hit")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("notes.png")
    expect(hits.first.locator("mark").first).to_have_text(re.compile("lighthouse", re.IGNORECASE))
    shot(page, artifacts, "06-search-text")

    # The image page of the photo with a GPS position.
    page.get_by_role("link", name="Gallery", exact=True).click()
    tile(page, "eiffel.jpg").click()
    expect(page.get_by_role("heading", name="eiffel.jpg")).to_be_visible()
    expect(page.locator(".location__coords")).to_contain_text("48.85")
    expect(page.get_by_role("link", name="Open in OpenStreetMap")).to_have_attribute(
        "href", re.compile(r"^https://www\.openstreetmap\.org/\?mlat=48\.85")
    )
    expect(page.locator(".image-page__figure img")).to_have_attribute("src", re.compile("^blob:"))
    shot(page, artifacts, "07-image-page-place")

    # Search by a label if the tagger gave one; until the tagging models land there are
    # none, and the dominant colour (also indexed by the tagging service) stands in.
    labels = page.locator(".labels .label-row a")
    if labels.count() > 0:
        label = labels.first.inner_text()
        labels.first.click()
        expect(page.get_by_role("button", name=re.compile(f"Label: {re.escape(label)}"))).to_be_visible()
    else:
        colour = page.locator(".colour__name").first.inner_text()
        search_for(page, f"colour:{colour}")
    expect(hits.filter(has_text="eiffel.jpg")).to_have_count(1)
    # Facets are filter chips: a year narrows the results, and shows as a removable chip.
    year = page.locator('.facet[aria-label="Years"] button').first
    year_value = year.inner_text().split()[0]
    year.click()
    expect(page.get_by_role("button", name=re.compile(f"Year: {year_value}"))).to_be_visible()
    expect(hits.filter(has_text="eiffel.jpg")).to_have_count(1)
    shot(page, artifacts, "08-search-label-and-facet")

    # The text image: extracted text, camera, and a download of the very bytes uploaded.
    search_for(page, "invoice")
    hits.first.locator(".result__name").click()
    expect(page.get_by_role("heading", name="notes.png")).to_be_visible()
    expect(page.get_by_test_id("extracted-text")).to_contain_text("Lighthouse keeper notes")
    expect(page.locator(".facts")).to_contain_text("Pixtract Labs E2E Camera")
    expect(page.locator(".image-page__figure img")).to_have_attribute("src", re.compile("^blob:"))
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == "notes.png"
    assert Path(download.path()).read_bytes() == NOTES
    shot(page, artifacts, "09-image-page-text")

    # Categories: rename one when the tagger made any; without tagging models there are
    # none yet, and the sidebar says so and what to do.
    page.goto("/")
    sidebar = page.locator(".sidebar")
    renames = sidebar.get_by_role("button", name=re.compile("^Rename "))
    expect(page.get_by_test_id("categories-empty").or_(renames.first)).to_be_visible()
    if renames.count() > 0:
        renames.first.click()
        field = sidebar.get_by_role("textbox")
        field.fill("Renamed by the browser test")
        sidebar.get_by_role("button", name="Save").click()
        expect(sidebar.get_by_role("link", name=re.compile("Renamed by the browser test"))).to_be_visible()
        page.reload()
        expect(sidebar.get_by_role("link", name=re.compile("Renamed by the browser test"))).to_be_visible()
    else:
        expect(page.get_by_test_id("categories-empty")).to_contain_text("No categories yet")
    shot(page, artifacts, "10-categories")

    # Delete with confirmation: cancelling keeps the image, confirming removes it.
    tile(page, "photo.jpg").click()
    expect(page.get_by_role("heading", name="photo.jpg")).to_be_visible()
    expect(page.locator(".image-page__figure img")).to_have_attribute("src", re.compile("^blob:"))
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete photo.jpg?")
    expect(dialog).to_be_visible()
    # Enter alone never destroys: the question opens on Cancel.
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    shot(page, artifacts, "11-delete-confirmation", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("status").filter(has_text="photo.jpg was deleted.")).to_be_visible()
    expect(tiles).to_have_count(2)
    expect(tile(page, "photo.jpg")).to_have_count(0)
    shot(page, artifacts, "12-after-delete")

    # The same screens on a phone.
    page.set_viewport_size(PHONE)
    shot(page, artifacts, "13-phone-timeline", full_page=False)
    tile(page, "notes.png").click()
    expect(page.get_by_role("heading", name="notes.png")).to_be_visible()
    expect(page.locator(".image-page__figure img")).to_have_attribute("src", re.compile("^blob:"))
    shot(page, artifacts, "14-phone-image-page")
    search_for(page, "lighthouse")
    expect(hits).to_have_count(1)
    shot(page, artifacts, "15-phone-search")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/keys")
    expect(page).to_have_url(re.compile(r"/signin\?next=/keys$"))


def test_keyboard_moves_between_tiles_and_suggestions_close_on_escape(page: Page, artifacts: Path) -> None:
    sign_up(page)
    page.get_by_test_id("upload-input").set_input_files(
        [payload(f"colour-{n}.jpg", photo_jpeg(10 + n), "image/jpeg") for n in range(3)]
    )
    tiles = page.locator(".timeline a.tile")
    expect(tiles).to_have_count(3)
    tiles.first.focus()
    page.keyboard.press("ArrowRight")
    expect(tiles.nth(1)).to_be_focused()
    page.keyboard.press("End")
    expect(tiles.nth(2)).to_be_focused()
    page.keyboard.press("Home")
    expect(tiles.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Download")).to_be_visible()

    box = page.get_by_role("combobox", name="Search your images")
    box.focus()
    page.keyboard.type("col")
    page.keyboard.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")


def test_api_keys_are_shown_once_listed_and_revoked(page: Page, artifacts: Path) -> None:
    sign_up(page)
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="No API keys")).to_be_visible()
    shot(page, artifacts, "20-api-keys-empty")

    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_contain_text("Give the key a name")
    page.get_by_label("Name").fill("backup script")
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_test_id("new-key")
    expect(shown).to_contain_text("shown only this once")
    key = page.get_by_label("The key").input_value()
    assert len(key) >= 20
    row = page.get_by_role("row", name=re.compile("backup script"))
    expect(row).to_contain_text("Never")
    shot(page, artifacts, "21-api-key-created")

    # The key works against the API on its own.
    status = page.evaluate(
        "async (key) => (await fetch('/api/v1/images', { headers: { Authorization: `Bearer ${key}` } })).status",
        key,
    )
    assert status == 200

    page.get_by_role("button", name="Done").click()
    expect(shown).to_have_count(0)
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("heading", name="No API keys")).to_be_visible()
    status = page.evaluate(
        "async (key) => (await fetch('/api/v1/images', { headers: { Authorization: `Bearer ${key}` } })).status",
        key,
    )
    assert status == 401
    shot(page, artifacts, "22-api-key-revoked")


def test_api_errors_are_shown_in_words(page: Page, artifacts: Path) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(f"nobody-{uuid.uuid4().hex[:8]}@example.org")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password.")
    shot(page, artifacts, "30-sign-in-refused")

    sign_up(page)
    search_for(page, "lighthouse AND (")
    expect(page.get_by_role("alert")).to_contain_text("could not be understood")
    shot(page, artifacts, "31-search-malformed-query")

    page.goto("/images/does-not-exist")
    expect(page.get_by_role("heading", name="Image not found")).to_be_visible()
    page.goto("/no/such/screen")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


def _session(page: Page) -> dict[str, str]:
    raw = page.evaluate("() => localStorage.getItem('pixtract.session')")
    assert raw, "no session stored"
    return dict(json.loads(raw))


def test_an_expired_access_token_is_renewed_and_a_dead_session_signs_out(page: Page, artifacts: Path) -> None:
    sign_up(page)
    before = _session(page)
    page.evaluate(
        "() => { const s = JSON.parse(localStorage.getItem('pixtract.session'));"
        " s.access_token = 'expired.' + s.access_token.split('.')[1] + '.x';"
        " localStorage.setItem('pixtract.session', JSON.stringify(s)); }"
    )
    page.reload()
    expect(page.get_by_role("heading", name="Your gallery", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Your gallery is empty")).to_be_visible()
    after = _session(page)
    assert after["refresh_token"] != before["refresh_token"], "the refresh token was used and rotated"
    assert after["access_token"] != before["access_token"]

    # Both tokens dead: the next call signs out and says why.
    page.evaluate(
        "() => localStorage.setItem('pixtract.session',"
        " JSON.stringify({ access_token: 'dead', refresh_token: 'dead' }))"
    )
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Your session has ended")).to_be_visible()
    assert page.evaluate("() => localStorage.getItem('pixtract.session')") is None
    shot(page, artifacts, "32-session-ended")


def test_categories_and_a_rich_image_page_with_stand_in_answers(page: Page, artifacts: Path) -> None:
    """Labels, categories, places and receipt fields come from models that have not landed
    yet; the browser stubs those answers (and only those) to show and test their screens."""
    sign_up(page)
    page.get_by_test_id("upload-input").set_input_files([payload("receipt.png", NOTES, "image/png")])
    receipt_tile = page.locator(".timeline a.tile")
    expect(receipt_tile).to_have_count(1)
    image_id = receipt_tile.get_attribute("data-image-id")
    assert image_id

    categories: list[dict[str, str | int]] = [
        {"id": "beach", "name": "beach", "suggested_name": "beach", "count": 12, "cover_image_id": image_id},
        {"id": "receipts", "name": "receipts", "suggested_name": "receipts", "count": 3, "cover_image_id": image_id},
    ]

    def list_categories(route: Route) -> None:
        route.fulfill(json={"items": categories})

    def rename_category(route: Route) -> None:
        body = route.request.post_data_json
        assert isinstance(body, dict)
        found = next(c for c in categories if route.request.url.endswith(f"/{c['id']}"))
        found["name"] = str(body["name"])
        route.fulfill(json=found)

    def rich_image(route: Route) -> None:
        real = route.fetch().json()
        real.update(
            state="ready",
            stages={"tagging": "done", "ocr": "done", "search": "done"},
            labels=[
                {"name": "receipt", "confidence": 0.93, "parents": ["document"]},
                {"name": "paper", "confidence": 0.41, "parents": []},
            ],
            categories=["receipts"],
            faces=0,
            location={"lat": 43.2965, "lon": 5.3698, "place": "Marseille", "country": "France"},
        )
        real["text"] = dict(
            content="LIGHTHOUSE CAFÉ\nEspresso 2.50\nTOTAL 42.50 EUR",
            lines=[{"text": "LIGHTHOUSE CAFÉ", "confidence": 0.97, "box": [26, 31, 526, 88]}],
            document_type="receipt",
            fields={"vendor": "Lighthouse Café", "date": "2025-07-14", "total": "42.50", "currency": "EUR"},
        )
        route.fulfill(json=real)

    page.route("**/api/v1/categories", list_categories)
    page.route("**/api/v1/categories/*", rename_category)
    page.route(f"**/api/v1/images/{image_id}", rich_image)
    page.reload()

    sidebar = page.locator(".sidebar")
    expect(sidebar.get_by_role("link", name=re.compile("^beach"))).to_be_visible()
    sidebar.get_by_role("button", name="Rename beach").click()
    field = sidebar.get_by_role("textbox", name="New name for beach")
    expect(field).to_be_focused()
    field.fill("Summer by the sea")
    shot(page, artifacts, "40-category-rename")
    field.press("Enter")
    renamed = sidebar.get_by_role("link", name=re.compile("Summer by the sea"))
    expect(renamed).to_be_visible()
    expect(renamed).to_have_attribute("href", "/?category=beach")
    shot(page, artifacts, "41-categories-renamed")

    receipt_tile.click()
    expect(page.get_by_role("heading", name="receipt.png")).to_be_visible()
    expect(page.locator(".label-row")).to_have_count(2)
    expect(page.locator(".image-page__figure img")).to_have_attribute("alt", "receipt, paper")
    expect(page.get_by_test_id("receipt-fields")).to_contain_text("Lighthouse Café")
    expect(page.get_by_test_id("receipt-fields")).to_contain_text("42.50 EUR")
    expect(page.locator(".location")).to_contain_text("Marseille, France")
    expect(page.get_by_role("link", name="receipts")).to_be_visible()
    shot(page, artifacts, "42-image-page-labels-receipt-place")


def test_the_timeline_loads_more_on_scroll_and_suggestions_come_while_typing(
    page: Page, artifacts: Path, gallery_url: str
) -> None:
    sign_up(page)
    token = _session(page)["access_token"]
    # More images than one timeline page (60), sent straight to the API; one is a cat.
    with httpx.Client(base_url=gallery_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        for start in range(0, 64, 16):
            files = [("files", (f"band-{n}.jpg", photo_jpeg(100 + n), "image/jpeg")) for n in range(start, start + 16)]
            assert api.post("/api/v1/images", files=files).status_code == 201
        cat = api.post("/api/v1/images", files=[("files", ("chelsea.jpg", chelsea_jpeg(), "image/jpeg"))])
        assert cat.status_code == 201, cat.text
        cat_id = cat.json()["images"][0]["id"]

    page.reload()
    tiles = page.locator(".timeline a.tile")
    expect(tiles).to_have_count(60)
    tiles.last.scroll_into_view_if_needed()
    expect(tiles).to_have_count(65)  # the next page arrived without a click
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    shot(page, artifacts, "40-timeline-scrolled", full_page=False)

    wait_ready(gallery_url, token, cat_id)  # tagged: its labels are in the index
    box = page.get_by_role("combobox", name="Search your images")
    box.click()
    page.keyboard.type("tab", delay=80)  # a person typing, not a paste
    suggestion = page.get_by_role("option", name=re.compile("tabby", re.IGNORECASE))
    expect(suggestion).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    shot(page, artifacts, "41-suggestions", full_page=False)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Search results")).to_be_visible()
    expect(box).to_have_value(re.compile("tabby", re.IGNORECASE))
    expect(page.locator(f'a[data-image-id="{cat_id}"]')).to_be_visible()


def wait_ready(base_url: str, token: str, image_id: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_MS / 1000
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        while time.monotonic() < deadline:
            if api.get(f"/api/v1/images/{image_id}").json()["state"] == "ready":
                return
            time.sleep(0.25)
    raise AssertionError(f"{image_id} was not ready in time")

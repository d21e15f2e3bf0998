"""The `pixtract` command: login, logout, upload, search, get.

Results go to stdout (tables, or raw JSON with `--json`); progress bars, notes and errors to
stderr. An error of the API is shown as its problem's title and detail, a network error as
one sentence, and the exit code is 1; a traceback means a bug in this client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.text import Text

from pixtract.cli.config import (
    DEFAULT_URL,
    ConfigError,
    Credentials,
    config_path,
    credentials_for,
    delete_credentials,
    load_credentials,
    normalize_url,
    save_credentials,
)
from pixtract.cli.discovery import discover
from pixtract.cli.problems import ApiError, CliError, describe_transport_error
from pixtract.cli.render import RichReporter, format_bytes, image_panel, parse_size, search_table, summary_table
from pixtract.cli.session import ApiSession, NotLoggedIn, expect, raise_if_unauthorized
from pixtract.cli.tus import ResumeStore
from pixtract.cli.uploader import Outcome, UploadOptions, UploadRun

app = typer.Typer(
    name="pixtract",
    help="Command-line client of a Pixtract server: log in, upload photos and documents, search, download.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The transport new sessions use: None is the network; tests put an httpx.MockTransport here.
transport_factory: Callable[[], httpx.AsyncBaseTransport | None] = lambda: None  # noqa: E731

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="PIXTRACT_URL",
        help=f"Base URL of the server [default: the one logged in to, else {DEFAULT_URL}]",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer instead of a table.")]


class _Target:
    """Which server a command talks to, and the stored credentials for it (if any)."""

    def __init__(self, url_option: str | None) -> None:
        self.config_file = config_path()
        self.stored = load_credentials(self.config_file)
        if url_option:
            self.base_url = normalize_url(url_option)
        else:
            self.base_url = self.stored.base_url if self.stored is not None else DEFAULT_URL
        self.credentials = credentials_for(self.base_url, self.stored)

    def require_login(self) -> Credentials:
        if self.credentials is None:
            raise NotLoggedIn(self.base_url, f"Not logged in to {self.base_url}.")
        return self.credentials

    def session(self, *, max_connections: int = 10) -> ApiSession:
        return ApiSession(
            self.base_url,
            self.credentials,
            on_refreshed=lambda refreshed: save_credentials(self.config_file, refreshed),
            transport=transport_factory(),
            max_connections=max_connections,
        )


def _consoles() -> tuple[Console, Console]:
    return Console(), Console(stderr=True)


def _fail(err: Console, message: str, code: int = 1) -> typer.Exit:
    err.print(Text("Error: ", style="bold red") + Text(message))
    return typer.Exit(code)


def _run(
    err: Console,
    url_option: str | None,
    command: Callable[[_Target], Coroutine[Any, Any, int]],
    *,
    login_hint: bool = True,
) -> None:
    """Run an async command; show every expected failure as a message, never a traceback.

    With `login_hint`, a 401 says how to log in rather than only that the server refused.
    """
    try:
        target = _Target(url_option)
    except ConfigError as exc:
        raise _fail(err, str(exc)) from None
    try:
        code = asyncio.run(command(target))
    except ApiError as exc:
        if login_hint:
            try:
                raise_if_unauthorized(exc, target.base_url, target.credentials)
            except NotLoggedIn as not_logged_in:
                raise _fail(err, str(not_logged_in)) from None
        raise _fail(err, str(exc)) from None
    except (CliError, ConfigError) as exc:
        raise _fail(err, str(exc)) from None
    except httpx.TransportError as exc:
        raise _fail(err, describe_transport_error(exc, target.base_url)) from None
    except KeyboardInterrupt:
        raise _fail(err, "interrupted", 130) from None
    raise typer.Exit(code)


def _print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))


# ----- login / logout ---------------------------------------------------------------------


@app.command()
def login(
    url: UrlOption = None,
    email: Annotated[str | None, typer.Option("--email", "-e", help="Account email (prompted if not given).")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Store this API key (pxk_...) instead of logging in.")
    ] = None,
) -> None:
    """Log in and keep the credentials for the other commands (the password is prompted, hidden)."""
    out, err = _consoles()
    password = ""
    if api_key is None:
        email = email or typer.prompt("Email")
        password = typer.prompt("Password", hide_input=True)

    async def command(target: _Target) -> int:
        async with ApiSession(target.base_url, None, transport=transport_factory()) as api:
            if api_key is not None:
                me = await api.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {api_key}"})
                who = (await expect(me, 200)).json().get("email")
                credentials = Credentials(target.base_url, api_key=api_key, email=who)
            else:
                answer = await api.http.post("/api/v1/auth/login", json={"email": email, "password": password})
                tokens = (await expect(answer, 200)).json()
                credentials = Credentials(
                    target.base_url,
                    access_token=tokens["access_token"],
                    refresh_token=tokens["refresh_token"],
                    email=email,
                )
        save_credentials(target.config_file, credentials)
        how = "with an API key" if api_key is not None else "with a token that refreshes itself"
        out.print(
            Text(f"Logged in to {target.base_url} as {credentials.email} ({how}); saved in {target.config_file}.")
        )
        return 0

    _run(err, url, command, login_hint=False)


@app.command()
def logout(url: UrlOption = None) -> None:
    """End the session on the server and forget the stored credentials."""
    out, err = _consoles()

    async def command(target: _Target) -> int:
        credentials = target.credentials
        if credentials is not None and credentials.refresh_token:
            async with target.session() as api:
                try:
                    await api.http.post("/api/v1/auth/logout", json={"refresh_token": credentials.refresh_token})
                except httpx.TransportError as exc:
                    err.print(Text(f"Note: the server was not told ({describe_transport_error(exc, api.base_url)})."))
        if delete_credentials(target.config_file):
            out.print(Text(f"Logged out; removed {target.config_file}."))
        else:
            out.print("Not logged in.")
        return 0

    _run(err, url, command)


# ----- upload -----------------------------------------------------------------------------


@app.command()
def upload(
    paths: Annotated[
        list[Path], typer.Argument(help="Files and directories (walked recursively, hidden entries skipped).")
    ],
    all_files: Annotated[
        bool, typer.Option("--all", help="Send every file, not only image file names; the server decides.")
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=32, help="Files sent at the same time.")] = 4,
    resumable_above: Annotated[
        str,
        typer.Option(
            "--resumable-above",
            help="Files larger than this go through tus resumable uploads when the server offers them.",
        ),
    ] = "32MiB",
    url: UrlOption = None,
) -> None:
    """Upload images: files the server already has are skipped by their SHA-256, nothing is sent twice."""
    out, err = _consoles()
    try:
        threshold = parse_size(resumable_above)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--resumable-above") from None

    async def command(target: _Target) -> int:
        target.require_login()
        found = discover(paths, include_all=all_files)
        for path, reason in found.missing:
            err.print(Text(f"{path}: {reason}", style="red"))
        options = UploadOptions(
            jobs=jobs,
            resumable_above=threshold,
            resume_store=ResumeStore(target.config_file.with_name("resumable-uploads.json")),
        )
        async with target.session(max_connections=jobs + 2) as api:
            with RichReporter(out, err) as reporter:
                results = await UploadRun(api, reporter, options).run(found.files, found.not_images)
        out.print()
        out.print(summary_table(results))
        errors = [result for result in results if result.outcome.is_error]
        if errors and len(results) > 10:
            # Repeated below the table, where they cannot scroll away among hundreds of lines.
            for result in errors:
                out.print(Text(f"{result.outcome.value}: {result.file.display}: {result.message}", style="red"))
        if not results and not found.missing:
            err.print("No files to upload.")
        uploaded = sum(result.outcome is Outcome.UPLOADED for result in results)
        if uploaded:
            err.print(Text(f"{uploaded} new image(s) are being processed; `pixtract search` finds them when ready."))
        return 1 if errors or found.missing else 0

    _run(err, url, command)


# ----- search and get ---------------------------------------------------------------------


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help='Free text or Lucene syntax (`receipt AND total`, `"a phrase"`, `label:dog`).')
    ],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="Hits to show.")] = 20,
    as_json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Search your images by their text, labels, file names and places."""
    out, err = _consoles()

    async def command(target: _Target) -> int:
        target.require_login()
        async with target.session() as api:
            response = await api.request("GET", "/api/v1/search", params={"q": query, "limit": limit})
            body = (await expect(response, 200)).json()
        if as_json:
            _print_json(body)
        else:
            out.print(search_table(body))
        return 0

    _run(err, url, command)


@app.command()
def get(
    image_id: Annotated[str, typer.Argument(help="The image's id (from `upload` or `search`).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Download the original to this file (or into this directory)."),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Show an image's metadata; with --output, download the original bytes."""
    out, err = _consoles()

    async def command(target: _Target) -> int:
        target.require_login()
        path = f"/api/v1/images/{quote(image_id, safe='')}"
        async with target.session() as api:
            image = (await expect(await api.request("GET", path), 200)).json()
            if as_json:
                _print_json(image)
            else:
                out.print(image_panel(image))
            if output is not None:
                destination = output / Path(str(image["filename"])).name if output.is_dir() else output
                written = await download(api, path + "/content", destination, expected_sha256=image.get("sha256"))
                (err if as_json else out).print(Text(f"Saved {format_bytes(written)} to {destination}."))
        return 0

    _run(err, url, command)


async def download(api: ApiSession, path: str, destination: Path, *, expected_sha256: str | None = None) -> int:
    """Stream the bytes at `path` (following a redirect to signed storage) into `destination`.

    Written next to the destination first and moved into place only when complete and, if
    the hash is known, identical: an interrupted download never leaves a truncated file.
    """
    partial = destination.with_name(f".{destination.name}.part")
    response = await api.send(lambda: api.http.build_request("GET", path), stream=True, follow_redirects=True)
    try:
        await expect(response, 200)
        digest, written = hashlib.sha256(), 0
        with partial.open("wb") as out:
            async for chunk in response.aiter_bytes():
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
        if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
            raise CliError(f"the download does not match the image's SHA-256 ({written:,} bytes received)")
        os.replace(partial, destination)
    except OSError as exc:
        raise CliError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    finally:
        await response.aclose()
        partial.unlink(missing_ok=True)
    return written


if __name__ == "__main__":
    app()

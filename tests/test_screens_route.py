"""``/t/{tenant}/app/…`` serves the built screens: index.html for any route, assets, a clear
page when the bundle is not built."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from core.http import create_app
from core.store import Database
from tests.api_helpers import make_runtime

INDEX = '<!doctype html><html><head><script src="./assets/app-1a2b.js"></script></head></html>'


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TESSERA_WEB_DIST", str(tmp_path))
    return tmp_path


async def _client(db: Database) -> httpx.AsyncClient:
    app = create_app(await make_runtime(db))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("path", ["", "/", "/e/account", "/e/account/123/edit", "/board/quote"])
async def test_every_route_gets_the_index_with_the_tenant_base(
    db: Database, dist: Path, path: str
) -> None:
    (dist / "index.html").write_text(INDEX)
    async with await _client(db) as client:
        response = await client.get(f"/t/acme-co/app{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<head><base href="/t/acme-co/app/">' in response.text
    assert "./assets/app-1a2b.js" in response.text


async def test_assets_are_served_and_unknown_ones_are_404(db: Database, dist: Path) -> None:
    (dist / "index.html").write_text(INDEX)
    (dist / "assets").mkdir()
    (dist / "assets" / "app-1a2b.js").write_text("console.log(1)")
    async with await _client(db) as client:
        found = await client.get("/t/acme-co/app/assets/app-1a2b.js")
        missing = await client.get("/t/acme-co/app/assets/nope.js")
        escape = await client.get("/t/acme-co/app/assets/..%2f..%2fsecret")
    assert found.status_code == 200 and found.text == "console.log(1)"
    assert "javascript" in found.headers["content-type"]
    assert "immutable" in found.headers["cache-control"]
    assert missing.status_code == 404
    assert escape.status_code == 404


async def test_a_missing_bundle_says_how_to_build_it(db: Database, dist: Path) -> None:
    async with await _client(db) as client:
        response = await client.get("/t/acme-co/app/")
    assert response.status_code == 503
    assert "npm ci &amp;&amp; npm run build" in response.text


async def test_a_malformed_tenant_is_not_echoed(db: Database, dist: Path) -> None:
    (dist / "index.html").write_text(INDEX)
    async with await _client(db) as client:
        response = await client.get("/t/%3Cscript%3E/app/")
    assert response.status_code == 404
    assert "<script>" not in response.text

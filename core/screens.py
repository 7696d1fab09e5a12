"""Serving the screens: the built web bundle at ``/t/{tenant}/app/…``.

The bundle (``web/dist``, built by ``npm run build`` in ``web/``) is one
``index.html`` plus hashed files under ``assets/``. Every other path under
``/app/`` answers with ``index.html`` so that the single-page app's own routes
(``/app/account/123``) survive a reload; a ``<base>`` element makes the
bundle's relative asset addresses resolve under the tenant's ``/app/``. The
page itself carries no data: everything comes through the tenant's GraphQL
API after login, so serving it needs no credentials.
"""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path

from litestar import MediaType, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

__all__ = ["screen_routes", "web_dist"]

_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ASSET = re.compile(r"^assets/[A-Za-z0-9._-]+$")

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera screens are not built</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem;line-height:1.5}}
code{{background:#f1f1f1;padding:0 .25rem}}</style></head>
<body><h1>The screens are not built yet</h1>
<p>This server looks for the built web app in <code>{dist}</code> and did not find
<code>index.html</code> there. Build it once (Node.js 20 or newer):</p>
<pre><code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code></pre>
<p>(<code>make demo</code> does this when the build is missing.) The GraphQL API works
without it: <a href="/t/{tenant}/graphql">/t/{tenant}/graphql</a>.</p></body></html>"""


def web_dist() -> Path:
    """Where the built bundle is: ``TESSERA_WEB_DIST``, else ``web/dist`` of the checkout."""
    configured = os.environ.get("TESSERA_WEB_DIST")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "web" / "dist"


def _html(body: str, status: int = 200) -> Response[str]:
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _index(tenant: str, dist: Path) -> Response[str]:
    index = dist / "index.html"
    if not index.is_file():
        return _html(_NOT_BUILT.format(dist=dist, tenant=tenant), status=503)
    page = index.read_text(encoding="utf-8")
    page = page.replace("<head>", f'<head><base href="/t/{tenant}/app/">', 1)
    return _html(page)


def _asset(path: str, dist: Path) -> Response[bytes] | None:
    if not _ASSET.match(path):
        return None
    file = dist / path
    if not file.is_file():
        return None
    media = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    # Asset names carry a content hash: a changed file has a new name.
    return Response(
        file.read_bytes(),
        media_type=media,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


def screen_routes() -> list[HTTPRouteHandler]:
    """The litestar handlers for ``/t/{tenant}/app`` and everything under it."""

    @get("/t/{tenant:str}/app", media_type=MediaType.HTML, include_in_schema=False)
    async def app_root(tenant: FromPath[str]) -> Response[str]:
        if not _TENANT.match(tenant):
            return _html("<h1>No such tenant</h1>", status=404)
        return _index(tenant, web_dist())

    @get("/t/{tenant:str}/app/{path:path}", include_in_schema=False)
    async def app_path(
        tenant: FromPath[str], path: FromPath[str]
    ) -> Response[bytes] | Response[str]:
        if not _TENANT.match(tenant):
            return _html("<h1>No such tenant</h1>", status=404)
        dist = web_dist()
        relative = path.lstrip("/")
        if relative.startswith("assets/"):
            found = _asset(relative, dist)
            if found is None:
                return Response(b"not found", status_code=404, media_type=MediaType.TEXT)
            return found
        return _index(tenant, dist)

    return [app_root, app_path]

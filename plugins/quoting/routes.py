"""Downloads under ``/t/{tenant}/x/quoting/`` (behind the API's authentication).

- ``GET quotes/{id}/quote.html`` and ``quotes/{id}/quote.pdf`` (``?locale=zh-CN``): the quote
  printed with the tenant's template;
- ``GET quotes/{id}/quote.xlsx``: the quote as a workbook;
- ``GET quotes.xlsx?filter=<JSON>&orderBy=<JSON>``: every quote matching a
  filter written like the GraphQL ``quotes(filter:)`` argument.

Each handler reads through the service as the authenticated caller
(``request.state.call``), who needs ``run`` on quotes, like the GraphQL
actions and reports.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote as url_quote

import orjson
from litestar import MediaType, Request, Response, get
from litestar.params import FromPath

from core import authz
from core.context import CallContext
from core.errors import BadRequest, Problem, TesseraError
from core.graphql.json_filters import graphql_filter, graphql_order
from plugins.quoting.documents import html_to_pdf, quote_html
from plugins.quoting.spreadsheets import list_workbook, quote_workbook

__all__ = ["ROUTES"]

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "LIMIT_EXCEEDED": 413}


def _error(err: TesseraError) -> Response[bytes]:
    body = {
        "errors": [
            {
                "message": err.message,
                "extensions": {"code": err.code, "errors": [p.as_dict() for p in err.problems]},
            }
        ]
    }
    return Response(
        orjson.dumps(body), status_code=_STATUS.get(err.code, 400), media_type=MediaType.JSON
    )


def _caller(request: Request[Any, Any, Any]) -> CallContext:
    ctx: CallContext = request.state.call
    ctx.extra.setdefault("service", request.state.service)
    authz.require(ctx, "quote", "run")
    return ctx


async def _answer(
    request: Request[Any, Any, Any],
    make: Callable[[CallContext], Awaitable[bytes | str]],
    media_type: str,
    filename: str | None = None,
) -> Response[Any]:
    try:
        body = await make(_caller(request))
    except TesseraError as err:
        return _error(err)
    headers = {}
    if filename is not None:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{url_quote(filename)}"
    return Response(body, media_type=media_type, headers=headers)


def _json_param(request: Request[Any, Any, Any], name: str) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"'{name}' must be JSON", [Problem("BAD_REQUEST", str(exc), name)]
        ) from None


@get("/quotes/{quote_id:str}/quote.html", media_type=MediaType.HTML)
async def quote_as_html(
    tenant: FromPath[str], quote_id: FromPath[str], request: Request[Any, Any, Any]
) -> Response[Any]:
    locale = request.query_params.get("locale")
    return await _answer(request, lambda ctx: quote_html(ctx, quote_id, locale), MediaType.HTML)


@get("/quotes/{quote_id:str}/quote.pdf", media_type="application/pdf")
async def quote_as_pdf(
    tenant: FromPath[str], quote_id: FromPath[str], request: Request[Any, Any, Any]
) -> Response[Any]:
    locale = request.query_params.get("locale")

    async def make(ctx: CallContext) -> bytes:
        html = await quote_html(ctx, quote_id, locale)
        # PDF layout is CPU work: off the event loop.
        return await asyncio.to_thread(html_to_pdf, html)

    return await _answer(request, make, "application/pdf", f"{quote_id}.pdf")


@get("/quotes/{quote_id:str}/quote.xlsx", media_type=_XLSX)
async def quote_as_xlsx(
    tenant: FromPath[str], quote_id: FromPath[str], request: Request[Any, Any, Any]
) -> Response[Any]:
    return await _answer(
        request, lambda ctx: quote_workbook(ctx, quote_id), _XLSX, f"{quote_id}.xlsx"
    )


@get("/quotes.xlsx", media_type=_XLSX)
async def quotes_as_xlsx(tenant: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
    async def make(ctx: CallContext) -> bytes:
        entity = ctx.model.entities["quote"]
        flt = graphql_filter(entity, _json_param(request, "filter"))
        order = graphql_order(entity, _json_param(request, "orderBy"))
        return await list_workbook(ctx, flt, order)

    return await _answer(request, make, _XLSX, "quotes.xlsx")


ROUTES = [quote_as_html, quote_as_pdf, quote_as_xlsx, quotes_as_xlsx]

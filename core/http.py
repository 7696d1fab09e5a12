"""The HTTP app (litestar): GraphQL per tenant, GraphiQL, health.

The tenant in the URL only selects which API is being addressed; who may use
it comes from the bearer token or the session cookie alone. A token of tenant
A on ``/t/B/...`` is refused before anything of B is read. Sessions come from
``POST /t/{tenant}/auth/login`` (password; failures lock the user, and each
client address is throttled); a request carried by the session cookie that
changes anything needs the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import logging
import os
import time
from collections import deque
from datetime import datetime
from typing import Any

import orjson
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath

from core.context import Principal, utcnow
from core.errors import (
    BadRequest,
    Forbidden,
    LimitExceeded,
    NotFound,
    Problem,
    RequestTimeout,
    TesseraError,
    TooManyAttempts,
    Unauthenticated,
)
from core.graphql import GraphQLContext
from core.graphql.registry import freeze_builds_from_env
from core.metadata import TenantModel
from core.plugins import enablement_guard
from core.runtime import Runtime
from core.screens import screen_routes
from core.security import login, principal_for_token, revoke_token, same_tenant

__all__ = ["MAX_BODY_BYTES", "create_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000

_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "BAD_REQUEST": 400,
    "LIMIT_EXCEEDED": 413,
    "TIMEOUT": 503,
    "TOO_MANY_ATTEMPTS": 429,
}


#: Wall time of one GraphQL request unless the tenant's ``limits.request_seconds`` says.
DEFAULT_REQUEST_SECONDS = 30.0


def request_seconds(model: TenantModel) -> float:
    limits = model.config.get("limits") or {}
    return float(limits.get("request_seconds") or DEFAULT_REQUEST_SECONDS)


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "BAD_REQUEST",
    413: "LIMIT_EXCEEDED",
    415: "BAD_REQUEST",
}


def _http_error(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Errors the framework raises itself (a body over its size limit, a wrong method)
    answer in the same shape as ours, with a stable code."""
    code = _HTTP_CODES.get(exc.status_code, "INTERNAL" if exc.status_code >= 500 else "BAD_REQUEST")
    body = {"errors": [{"message": str(exc.detail), "extensions": {"code": code, "errors": []}}]}
    return Response(orjson.dumps(body), status_code=exc.status_code, media_type=MediaType.JSON)


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _json_param(request: Request[Any, Any, Any], name: str) -> Any:
    """A query parameter holding JSON (a download's filter or sort)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"'{name}' must be JSON", [Problem("BAD_REQUEST", str(exc), name)]
        ) from None


def _error_response(err: TesseraError) -> Response[bytes]:
    body = {
        "errors": [
            {
                "message": err.message,
                "extensions": {
                    "code": err.code,
                    "errors": [p.as_dict() for p in err.problems],
                },
            }
        ]
    }
    return Response(
        orjson.dumps(body),
        status_code=_STATUS.get(err.code, 400),
        media_type=MediaType.JSON,
        headers={"WWW-Authenticate": "Bearer"} if err.code == "UNAUTHENTICATED" else None,
    )


#: The session cookie (HttpOnly) and the CSRF cookie the screens echo in ``X-CSRF-Token``.
SESSION_COOKIE = "tessera_session"
CSRF_COOKIE = "tessera_csrf"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session: str) -> str:
    """The CSRF token bound to one session: a page of another site can neither read
    the cookie nor compute this, so it cannot forge a state-changing request."""
    return hashlib.sha256(b"tessera-csrf:" + session.encode()).hexdigest()


def _credential(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The bearer token, else the session cookie (CSRF-checked for unsafe methods)."""
    header = connection.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send 'Authorization: Bearer <token>' (see 'crm token create')")
        return token.strip()
    session = connection.cookies.get(SESSION_COOKIE, "")
    if not session:
        raise Unauthenticated(
            "send 'Authorization: Bearer <token>' (see 'crm token create') or log in"
        )
    if connection.scope.get("method", "GET") not in _SAFE_METHODS:
        sent = connection.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
            raise Forbidden(
                "a request made with the session cookie needs its X-CSRF-Token header",
                [Problem("CSRF_FAILED", "missing or wrong X-CSRF-Token", "")],
            )
    return session


class _PrincipalCache:
    """Who a token stands for, remembered for a few seconds in this process.

    Every request used to read its token from the database before anything
    else (0.8–1.4 ms, measured); within ``seconds`` a token is looked up once.
    A token revoked by another process, or a user's roles changed, take effect
    here within ``seconds``; a logout in this process at once. ``0`` turns the
    cache off.
    """

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        found = self._items.get(token)
        if found is None:
            return None
        if found[0] < time.monotonic():
            self._items.pop(token, None)
            return None
        return found[1]

    def put(self, token: str, principal: Principal) -> None:
        if self.seconds <= 0:
            return
        if len(self._items) >= self.size:
            self._items.clear()  # bounded memory; the next requests look up again
        self._items[token] = (time.monotonic() + self.seconds, principal)

    def drop(self, token: str) -> None:
        self._items.pop(token, None)


class _Throttle:
    """At most ``limit`` attempts per key (tenant and client address) per ``window``,
    in this process: a cheap first line in front of the per-user lock."""

    def __init__(self, limit: int = 20, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str, now: datetime) -> None:
        t = now.timestamp()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= t - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise TooManyAttempts("too many login attempts from this address; wait a few minutes")
        hits.append(t)
        if len(self._hits) > 100_000:  # bounded memory under a spray of addresses
            self._hits.clear()


_GRAPHIQL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera GraphQL console · {tenant}</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem;max-width:70rem}
textarea,input{width:100%;font-family:monospace;box-sizing:border-box}
textarea{height:14rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
<body><h1>GraphQL console · {tenant}</h1>
<p>POST GraphQL to <code>/t/{tenant}/graphql</code> with
<code>Authorization: Bearer &lt;token&gt;</code> (<code>crm token create {tenant} EMAIL</code>).</p>
<label for="token">Bearer token</label><input id="token" autocomplete="off">
<label for="query">Query</label>
<textarea id="query">{ meta { tenant { key locales } entities { key listQueryName } } }</textarea>
<label for="vars">Variables (JSON)</label><input id="vars" value="{}">
<p><button id="run">Run</button></p><pre id="out" aria-live="polite"></pre>
<script>
document.getElementById("run").onclick = async () => {
  const r = await fetch("/t/{tenant}/graphql", {method: "POST",
    headers: {"Content-Type": "application/json",
              "Authorization": "Bearer " + document.getElementById("token").value},
    body: JSON.stringify({query: document.getElementById("query").value,
                          variables: JSON.parse(document.getElementById("vars").value || "{}")})});
  document.getElementById("out").textContent = JSON.stringify(await r.json(), null, 2);
};
</script></body></html>"""


def create_app(runtime: Runtime, *, graphiql: bool | None = None) -> Litestar:
    """Build the ASGI app around a runtime that is already open."""
    show_graphiql = (
        graphiql
        if graphiql is not None
        else os.environ.get("TESSERA_GRAPHIQL", "1") not in ("0", "false", "no")
    )
    # Secure cookies travel over HTTPS only (browsers also treat localhost as secure).
    secure_cookies = os.environ.get("TESSERA_SECURE_COOKIES", "1") not in ("0", "false", "no")
    throttle = _Throttle()
    principals = _PrincipalCache(float(os.environ.get("TESSERA_TOKEN_CACHE_SECONDS", "5")))

    @get("/healthz", media_type=MediaType.JSON)
    async def healthz() -> dict[str, Any]:
        await runtime.db.fetch("SELECT 1 AS ok")
        return {"status": "ok", "database": runtime.db.dialect}

    async def authenticate(
        connection: ASGIConnection[Any, Any, Any, Any], tenant: str
    ) -> Principal:
        """The principal of the request's bearer token or session cookie; it must belong
        to ``tenant``. A cookie-borne request that changes anything must carry the
        session's CSRF token in ``X-CSRF-Token``."""
        credential = _credential(connection)
        principal = principals.get(credential)
        if principal is None:
            principal = await principal_for_token(runtime.db, credential, utcnow())
            principals.put(credential, principal)
        if not same_tenant(principal, tenant):
            raise Forbidden("this token belongs to another tenant")
        return principal

    @post("/t/{tenant:str}/auth/login", media_type=MediaType.JSON, status_code=200)
    async def login_post(tenant: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
        """Password login: a session cookie (HttpOnly) plus its CSRF token, and the same
        session as a bearer token for API clients."""
        try:
            client = request.client.host if request.client else "?"
            throttle.check(f"{tenant}:{client}", utcnow())
            raw = await request.body()
            if len(raw) > 10_000:
                raise LimitExceeded("a login request is a few bytes")
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise BadRequest("the body must be JSON: {email, password}") from None
            email, password = (body or {}).get("email"), (body or {}).get("password")
            if not isinstance(email, str) or not isinstance(password, str):
                raise BadRequest("the body must be JSON: {email, password}")
            token, expires, _principal = await login(runtime.db, tenant, email, password, utcnow())
        except TesseraError as err:
            return _error_response(err)
        csrf = csrf_token(token)
        max_age = int((expires - utcnow()).total_seconds())
        path = f"/t/{tenant}"
        return Response(
            orjson.dumps({"token": token, "expiresAt": expires.isoformat(), "csrfToken": csrf}),
            media_type=MediaType.JSON,
            cookies=[
                Cookie(
                    key=SESSION_COOKIE,
                    value=token,
                    path=path,
                    max_age=max_age,
                    httponly=True,
                    secure=secure_cookies,
                    samesite="strict",
                ),
                Cookie(
                    key=CSRF_COOKIE,
                    value=csrf,
                    path=path,
                    max_age=max_age,
                    httponly=False,  # the screens read it and send it back in a header
                    secure=secure_cookies,
                    samesite="strict",
                ),
            ],
        )

    @post("/t/{tenant:str}/auth/logout", media_type=MediaType.JSON, status_code=200)
    async def logout_post(
        tenant: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """End the session (or revoke the bearer token used) and clear the cookies."""
        try:
            await authenticate(request, tenant)
            credential = _credential(request)
            principals.drop(credential)
            await revoke_token(runtime.db, credential, utcnow())
        except TesseraError as err:
            return _error_response(err)
        path = f"/t/{tenant}"
        return Response(
            orjson.dumps({"ok": True}),
            media_type=MediaType.JSON,
            cookies=[
                Cookie(key=SESSION_COOKIE, value="", path=path, max_age=0, httponly=True),
                Cookie(key=CSRF_COOKIE, value="", path=path, max_age=0),
            ],
        )

    async def auth_guard(
        connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
    ) -> None:
        # Plugin routes get the same wall as the GraphQL endpoint.
        try:
            principal = await authenticate(connection, str(connection.path_params.get("tenant")))
        except Unauthenticated as err:
            raise NotAuthorizedException(err.message) from None
        except Forbidden as err:
            raise PermissionDeniedException(err.message) from None
        connection.state.principal = principal
        # Plugin routes read and write through the service, as this caller (D8).
        model = await runtime.model(principal.tenant)
        connection.state.call = runtime.context(model, principal)
        connection.state.service = runtime.service

    async def enabled_plugins(tenant: str) -> tuple[str, ...]:
        return (await runtime.model(tenant)).plugins

    @post("/t/{tenant:str}/graphql", media_type=MediaType.JSON, status_code=200)
    async def graphql_post(
        tenant: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        try:
            principal = await authenticate(request, tenant)
            raw = await request.body()
            if len(raw) > MAX_BODY_BYTES:
                raise LimitExceeded(f"request body is larger than {MAX_BODY_BYTES} bytes")
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"the body is not valid JSON: {exc}") from None
            if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
                raise BadRequest("the body must be a JSON object with a 'query' string")
            variables = payload.get("variables")
            if variables is not None and not isinstance(variables, dict):
                raise BadRequest("'variables' must be a JSON object")
            operation = payload.get("operationName")
            if operation is not None and not isinstance(operation, str):
                raise BadRequest("'operationName' must be a string")
            model = await runtime.model(tenant)
            call = runtime.context(model, principal)
            # Each role set sees a schema without the fields it may not read.
            schema = runtime.schemas.get(model, runtime.hidden_fields(call))
            context = GraphQLContext(call=call, service=runtime.service)
            seconds = request_seconds(model)
            try:
                # A governor, not a hang: past the tenant's wall time the request is
                # cancelled, and its open transaction rolls back.
                async with asyncio.timeout(seconds):
                    result = await schema.execute(payload["query"], variables, operation, context)
            except TimeoutError:
                raise RequestTimeout(
                    f"the request ran longer than {seconds:g} s and was stopped; nothing of it "
                    "was saved",
                    [Problem("REQUEST_TIMEOUT", f"longer than {seconds:g} s", "")],
                ) from None
        except TesseraError as err:
            return _error_response(err)
        return Response(orjson.dumps(result), media_type=MediaType.JSON)

    @get(
        "/t/{tenant:str}/export/{entity:str}",
        media_type=_XLSX,
        guards=[auth_guard],
    )
    async def export_xlsx(
        tenant: FromPath[str], entity: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """Any list as a workbook, as the caller may read it (core.exports)."""
        from core.authz import hidden_fields
        from core.exports import list_workbook
        from core.graphql.json_filters import graphql_filter, graphql_order

        ctx = request.state.call
        try:
            edef = ctx.model.entities.get(entity)
            if edef is None:
                raise NotFound(f"entity '{entity}' does not exist for this tenant")
            flt = graphql_filter(edef, _json_param(request, "filter"))
            order = graphql_order(edef, _json_param(request, "orderBy"))
            hidden = hidden_fields(ctx).get(edef.key, frozenset())
            body = await list_workbook(ctx, runtime.service, edef, flt, order, hidden)
        except TesseraError as err:
            return _error_response(err)
        name = f"{edef.plural}.xlsx"
        return Response(
            body,
            media_type=_XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @get("/t/{tenant:str}/graphql", media_type=MediaType.HTML)
    async def graphql_get(tenant: FromPath[str]) -> Response[str]:
        if not show_graphiql:
            return Response("GraphiQL is disabled", status_code=404, media_type=MediaType.TEXT)
        return Response(_GRAPHIQL.replace("{tenant}", tenant), media_type=MediaType.HTML)

    async def on_startup() -> None:
        # Objects alive after start-up are never collected again: shorter GC pauses (PITFALLS).
        gc.collect()
        gc.freeze()
        # The same for each tenant's schema, as it is built (TESSERA_GC_FREEZE).
        runtime.schemas.freeze_builds = freeze_builds_from_env()

    return Litestar(
        route_handlers=[
            healthz,
            login_post,
            logout_post,
            graphql_post,
            graphql_get,
            export_xlsx,
            *screen_routes(),
            *runtime.plugins.http_routes(guards=[auth_guard, enablement_guard(enabled_plugins)]),
        ],
        on_startup=[on_startup],
        request_max_body_size=MAX_BODY_BYTES * 2,
        exception_handlers={HTTPException: _http_error},
        debug=False,
    )

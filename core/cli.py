"""The ``crm`` command line.

Exit codes: 0 on success, 1 on a user error (printed as located messages,
never a traceback), 2 on a usage error (argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from core.config import load_config_file
from core.errors import Problem, TesseraError
from core.runtime import Runtime

__all__ = ["main"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class UserError(Exception):
    """A problem the user can fix; printed without a traceback."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        print(f"  {p.located()}", file=sys.stderr)


async def _with_runtime(fn: Callable[[Runtime], Awaitable[int]], migrate: bool = True) -> int:
    runtime = await Runtime.open(migrate=migrate)
    try:
        for failure in runtime.plugins.failures:
            print(f"warning: plugin '{failure.name}' was skipped: {failure.error}", file=sys.stderr)
        return await fn(runtime)
    finally:
        await runtime.close()


# -- tenant ------------------------------------------------------------------


def _load(path: str) -> dict[str, Any]:
    doc, problems = load_config_file(path)
    if doc is None or problems:
        raise UserError(f"{path}: cannot be read as a tenant config", problems)
    return doc


def cmd_tenant_validate(args: argparse.Namespace) -> int:
    from core.plugins import PluginHost

    host = PluginHost.from_entry_points()
    failed = 0
    for path in args.files:
        doc, problems = load_config_file(path)
        if doc is not None and not problems:
            from core.config import validate_config

            _, problems = validate_config(doc, host.contributions(), file=path)
        if problems:
            failed += 1
            print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
            _print_problems(problems)
        else:
            print(f"{path}: valid")
    return 1 if failed else 0


def _batch(args: argparse.Namespace) -> int | None:
    """``--batch``, checked, and the re-index settings of the environment checked too."""
    from core.reindex import default_batch, default_pause

    batch: int | None = getattr(args, "batch", None)
    if batch is not None and batch < 1:
        raise UserError(f"--batch must be at least 1 (got {batch})")
    try:
        default_batch()
        default_pause()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return batch


def _print_reindexes(tasks: Sequence[Any]) -> None:
    for task in tasks:
        effect = (
            f"until it ends, filters and sorts on {', '.join(task.fields)} read the stored values"
            if task.fields
            else "it only clears slots: no query waits for it"
        )
        print(
            f"  re-index {task.entity} ({task.describe()}): {task.rows_done:,} of "
            f"~{task.rows_total:,} record(s) done; {effect}"
        )


async def _run_reindex(rt: Runtime, tenant: str, batch: int | None) -> None:
    """Run a tenant's pending re-indexes to the end, printing progress (Ctrl-C is safe)."""
    from core.reindex import Progress

    waiting: set[tuple[str, str | None]] = set()

    def show(p: Progress) -> None:
        if p.phase == "waiting":
            if (p.entity, None) not in waiting:
                waiting.add((p.entity, None))
                print(f"  {p.tenant}/{p.entity}: waiting for other servers to load the config")
            return
        print(f"  {p.line()}", flush=True)

    try:
        report = await rt.reindex(tenant, progress=show, wait=True, batch=batch)
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels us; the position is saved
        print(
            f"{tenant}: re-index interrupted; `crm tenant reindex {tenant}` or `crm worker` "
            "resumes it where it stopped",
            file=sys.stderr,
        )
        raise
    if report.pending:
        raise UserError(f"{tenant}: re-index of {', '.join(report.pending)} did not finish")
    print(
        f"{tenant}: re-index done in {report.seconds:.1f} s ({report.rows_checked:,} rows "
        f"checked, {report.rows_changed:,} rewritten)"
    )


def cmd_tenant_apply(args: argparse.Namespace) -> int:
    """Apply configs; each returns once committed, then its re-index runs (unless --no-wait)."""
    batch = _batch(args)

    async def run(rt: Runtime) -> int:
        for path in args.files:
            result = await rt.apply_config(_load(path), actor="cli", file=path)
            if result.changed:
                print(f"{result.tenant}: applied as version {result.version}")
            else:
                print(f"{result.tenant}: unchanged (version {result.version})")
            if not result.reindex:
                continue
            _print_reindexes(result.reindex)
            if args.no_wait:
                print(
                    f"  left to `crm worker` (or `crm tenant reindex {result.tenant}`); "
                    "queries are correct meanwhile"
                )
            else:
                await _run_reindex(rt, result.tenant, batch)
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_tenant_reindex(args: argparse.Namespace) -> int:
    """Run (or resume) a tenant's pending re-indexes, printing progress."""
    batch = _batch(args)

    async def run(rt: Runtime) -> int:
        await rt.model(args.tenant)  # an unknown tenant is NOT_FOUND
        pending = await rt.db.reindex.unfinished(args.tenant)
        if not pending:
            print(f"{args.tenant}: nothing to re-index")
            return 0
        _print_reindexes(pending)
        await _run_reindex(rt, args.tenant, batch)
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_tenant_plan(args: argparse.Namespace) -> int:
    """What applying each file would change, and the records it touches; writes nothing."""
    from core.errors import NotFound
    from core.plan import data_problems, plan_changes

    async def run(rt: Runtime) -> int:
        failed = False
        from core.store.values import stored_order

        for path in args.files:
            model, problems = rt.validate(stored_order(_load(path), rt.db.dialect), path)
            if model is None:
                _print_problems(problems)
                failed = True
                continue
            try:
                current = await rt.model(model.tenant)
            except NotFound:
                current = None
            plan = await plan_changes(rt.db, current, model)
            for line in plan.lines():
                print(line)
            if current is not None:
                for task in await rt.db.reindex.unfinished(model.tenant):
                    print(
                        f"  (a re-index of {task.entity} is still running: {task.describe()}, "
                        f"{task.rows_done:,} of ~{task.rows_total:,} record(s) done)"
                    )
            refused, _ = await data_problems(rt.db, current, model, path)
            if refused:
                print("  apply would be refused by the stored data:")
                _print_problems(refused)
                failed = True
        return 1 if failed else 0

    return asyncio.run(_with_runtime(run))


def cmd_tenant_list(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        tenants = await rt.db.list_tenants()
        if not tenants:
            print("no tenants yet: crm tenant apply tenant_configs/<tenant>.json")
        for t in tenants:
            print(f"{t['tenant_id']}\tversion {t['config_version']}\t{t['name']}")
        return 0

    return asyncio.run(_with_runtime(run))


def _print_table_rows(table: str, rows: int) -> None:
    print(f"  {table}: {rows:,} row(s)", file=sys.stderr)


def cmd_tenant_export(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from core.backup import export_tenant

    to_stdout = args.output == "-"
    if to_stdout and sys.stdout.isatty():
        raise UserError("refusing to write a compressed export to a terminal: use --output FILE")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = Path(args.output or f"{args.tenant}-{stamp}.tessera.jsonl.gz")

    async def run(rt: Runtime) -> int:
        print(f"exporting {args.tenant} ...", file=sys.stderr)
        if to_stdout:
            summary = await export_tenant(
                rt.db, args.tenant, sys.stdout.buffer, progress=_print_table_rows
            )
            sys.stdout.buffer.flush()
        else:
            # Written aside and renamed when complete: a failed export leaves no file.
            partial = target.with_name(target.name + ".part")
            try:
                with partial.open("wb") as sink:
                    summary = await export_tenant(
                        rt.db, args.tenant, sink, progress=_print_table_rows
                    )
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        rate = summary.rows / summary.seconds if summary.seconds else 0.0
        where = "stdout" if to_stdout else str(target)
        print(
            f"{args.tenant}: exported {summary.rows:,} row(s) to {where} "
            f"in {summary.seconds:.1f} s ({rate:,.0f} rows/s), sha256 {summary.sha256}",
            file=sys.stderr,
        )
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_tenant_import(args: argparse.Namespace) -> int:
    from core.backup import import_tenant

    source = Path(args.file)
    if not source.is_file():
        raise UserError(f"{source}: no such file")

    async def run(rt: Runtime) -> int:
        print(f"importing {source} ...", file=sys.stderr)
        with source.open("rb") as stream:
            summary = await import_tenant(rt, stream, progress=_print_table_rows)
        rate = summary.rows / summary.seconds if summary.seconds else 0.0
        print(
            f"{summary.tenant}: imported {summary.rows:,} row(s) "
            f"in {summary.seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        return 0

    return asyncio.run(_with_runtime(run))


# -- users and tokens ----------------------------------------------------------


async def _add_user(
    rt: Runtime, tenant: str, email: str, roles: Sequence[str], password: str, name: str = ""
) -> str:
    from core.security import hash_password

    model = await rt.model(tenant)
    unknown = [r for r in roles if model.roles and r not in model.roles and r != "admin"]
    if unknown:
        raise UserError(
            f"role '{unknown[0]}' is not defined for {tenant} "
            f"(roles: {', '.join(sorted(model.roles))})"
        )
    from core.store import UniqueViolation

    try:
        return await rt.db.add_user(
            tenant,
            email.strip().lower(),
            name or email,
            hash_password(password),
            list(roles),
            model.default_locale,
        )
    except UniqueViolation:
        raise UserError(f"{tenant} already has a user {email}") from None


def cmd_user_add(args: argparse.Namespace) -> int:
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            raise UserError("no --password given and no terminal to ask for one")
        password = getpass.getpass(f"Password for {args.email}: ")
        if password != getpass.getpass("Again: "):
            raise UserError("the passwords differ")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")

    async def run(rt: Runtime) -> int:
        manager_id = None
        if args.manager:
            manager = await rt.db.get_user(args.tenant, args.manager)
            if manager is None:
                raise UserError(f"{args.tenant} has no user {args.manager} (the --manager)")
            manager_id = manager["id"]
        user_id = await _add_user(rt, args.tenant, args.email, args.role, password, args.name or "")
        if manager_id is not None:
            await rt.db.set_manager(args.tenant, user_id, manager_id)
        print(f"added {args.email} to {args.tenant} (id {user_id})")
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_token_create(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from core.context import utcnow
    from core.security import issue_token

    expires_at = None
    if args.expires_in is not None:
        if not 0 < args.expires_in <= 3650:
            raise UserError("--expires-in takes a number of days from 0 to 3650")
        expires_at = utcnow() + timedelta(days=args.expires_in)

    async def run(rt: Runtime) -> int:
        user = await rt.db.get_user(args.tenant, args.email.strip().lower())
        if user is None:
            raise UserError(f"{args.tenant} has no user {args.email} (crm user add ...)")
        token = await issue_token(
            rt.db, args.tenant, user["id"], label=args.label or "", expires_at=expires_at
        )
        print(token)
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from core.context import utcnow
    from core.security import token_hash

    async def run(rt: Runtime) -> int:
        if not await rt.db.revoke_token(token_hash(args.token), utcnow()):
            raise UserError("no such active token")
        print("revoked")
        return 0

    return asyncio.run(_with_runtime(run))


# -- schema, plugins -------------------------------------------------------------


async def _user_context(rt: Runtime, tenant: str, email: str) -> Any:
    """The call context of a user of the tenant: imports and exports run as someone."""
    from core.context import Principal

    model = await rt.model(tenant)
    user = await rt.db.get_user(tenant, email)
    if user is None or not user["active"]:
        raise UserError(f"{tenant} has no active user {email} (--as)")
    principal = Principal(
        tenant=tenant,
        user_id=user["id"],
        email=user["email"],
        roles=tuple(user["roles"]),
        name=user.get("name") or "",
        locale=user.get("locale"),
    )
    return rt.context(model, principal)


def cmd_import(args: argparse.Namespace) -> int:
    """Create records from a CSV file, as a user, all or nothing."""
    from core.errors import TesseraError
    from core.importer import ImportProgress, check_csv, import_csv

    last: list[Any] = [0.0, None]  # when progress was last printed; the reason shown

    def progress(p: ImportProgress) -> None:
        if p.one_by_one and p.one_by_one != last[1]:
            last[1] = p.one_by_one
            print(f"  one record at a time: {p.one_by_one}", file=sys.stderr)
        if p.seconds - last[0] >= 1.0:  # at most a line a second
            last[0] = p.seconds
            print(
                f"  {p.checked:,} rows checked, {p.written:,} written ({p.rate:,.0f} rows/s)",
                file=sys.stderr,
                flush=True,
            )

    async def run(rt: Runtime) -> int:
        ctx = await _user_context(rt, args.tenant, args.as_user)
        try:
            with open(args.file, encoding="utf-8-sig", newline="") as stream:
                if args.dry_run:
                    result = await check_csv(
                        ctx, rt.service, args.entity, stream, progress=progress
                    )
                    print(f"{result.created} row(s) would be imported; nothing was written")
                    return 0
                result = await import_csv(ctx, rt.service, args.entity, stream, progress=progress)
        except OSError as exc:
            raise UserError(f"cannot read {args.file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UserError(f"{args.file} is not UTF-8 text") from None
        except TesseraError as exc:
            raise UserError(exc.message, exc.problems) from None
        rate = result.created / result.seconds if result.seconds else 0.0
        how = f"one at a time: {result.one_by_one}" if result.one_by_one else "in batches"
        print(
            f"imported {result.created} {args.entity} record(s) into {args.tenant} "
            f"in {result.seconds:.1f} s ({rate:,.0f} rows/s, {how})"
        )
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_export(args: argparse.Namespace) -> int:
    """Write the records a user may read as CSV."""
    from core.errors import TesseraError
    from core.importer import export_csv

    async def run(rt: Runtime) -> int:
        ctx = await _user_context(rt, args.tenant, args.as_user)
        try:
            if args.output in (None, "-"):
                count = await export_csv(ctx, rt.service, args.entity, sys.stdout)
            else:
                with open(args.output, "w", encoding="utf-8", newline="") as sink:
                    count = await export_csv(ctx, rt.service, args.entity, sink)
        except TesseraError as exc:
            raise UserError(exc.message, exc.problems) from None
        print(f"exported {count} {args.entity} record(s)", file=sys.stderr)
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_schema(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        model = await rt.model(args.tenant)
        print(rt.schemas.get(model).sdl())
        return 0

    return asyncio.run(_with_runtime(run))


def cmd_tenant_test(args: argparse.Namespace) -> int:
    """Run the test cases each config carries, each in a scratch database; writes nothing."""
    from core.plugins import PluginHost
    from core.store.values import stored_order
    from core.tenant_tests import run_tenant_tests

    async def run() -> int:
        host = PluginHost.from_entry_points()
        failed = False
        for path in args.files:
            doc = stored_order(_load(path), "sqlite")
            from core.config import validate_config

            model, problems = validate_config(doc, host.contributions(), file=path)
            if model is None:
                print(f"{path}: not a valid config", file=sys.stderr)
                _print_problems(problems)
                failed = True
                continue
            results = await run_tenant_tests(doc, host, path)
            passed = sum(r.passed for r in results)
            print(f"{model.tenant}: {passed} of {len(results)} test(s) passed")
            for r in results:
                print(f"  {'PASS' if r.passed else 'FAIL'}  {r.name}")
                for p in r.problems:
                    print(f"        {p.located()}")
            failed = failed or passed < len(results)
        return 1 if failed else 0

    return asyncio.run(run())


def cmd_plugin_list(args: argparse.Namespace) -> int:
    from core.plugins import PluginHost

    host = PluginHost.from_entry_points()
    for name in host.names:
        manifest = host.manifests.get(name, {})
        print(f"{name}\t{manifest.get('version', '?')}\t{', '.join(manifest.get('entities', []))}")
    for failure in host.failures:
        print(f"{failure.name}\tFAILED\t{failure.error}")
    return 0


def cmd_plugin_new(args: argparse.Namespace) -> int:
    """Write a new plugin package that installs, loads and passes its own tests."""
    from core.scaffold import new_plugin

    try:
        root = new_plugin(args.name, Path(args.dir))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(f"created {root}")
    print(f"next: pip install -e '{root}[test]' && crm plugin list && pytest -q {root}")
    return 0


# -- serve and demo -----------------------------------------------------------------


def _serve(rt: Runtime, host: str, port: int, *, with_worker: bool = False) -> None:
    """Serve HTTP; ``with_worker`` also runs a worker in the same process (the demo)."""
    import uvicorn

    from core.http import create_app

    config = uvicorn.Config(create_app(rt), host=host, port=port, log_level="info", lifespan="on")
    server = uvicorn.Server(config)

    async def serve() -> None:
        if not with_worker:
            await server.serve()
            return
        from core.delivery import mailer_from_env
        from core.worker import Worker

        stop = asyncio.Event()
        async with Worker(rt, mailer=mailer_from_env()) as worker:
            task = asyncio.create_task(worker.run(stop, poll=2.0))
            try:
                await server.serve()
            finally:
                stop.set()
                await task

    asyncio.get_event_loop().run_until_complete(serve())


def cmd_serve(args: argparse.Namespace) -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rt = loop.run_until_complete(Runtime.open())
    try:
        _serve(rt, args.host, args.port)
    finally:
        loop.run_until_complete(rt.close())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from core.demo import load_demo

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rt = loop.run_until_complete(Runtime.open())
    try:
        logins = loop.run_until_complete(
            load_demo(rt, Path(args.configs) if args.configs else None)
        )
        base = f"http://{args.host}:{args.port}"
        print("\nTessera demo is ready. Tenants, users and tokens:\n")
        for login in logins:
            print(f"  {login.tenant}  ({login.name})")
            print(f"    user:     {login.email}  password: {login.password}")
            print(f"    token:    {login.token}")
            for member in login.team:
                roles = ", ".join(member.roles)
                print(f"    also:     {member.email}  ({roles}; same password)")
            print(f"    GraphQL:  {base}/t/{login.tenant}/graphql")
            print(f"    Screens:  {base}/t/{login.tenant}/app/")
        if logins:
            first = logins[0]
            print(
                "\nTry:\n  curl -s -X POST "
                f"{base}/t/{first.tenant}/graphql -H 'Authorization: Bearer {first.token}' "
                "-H 'Content-Type: application/json' "
                '-d \'{"query": "{ accounts(first: 3) { totalCount edges { node { id name } } } }"}\'\n'
            )
        if not args.no_serve:
            print(
                "A worker runs in this process: reminders, timers and notifications "
                "(emails are written to the log unless TESSERA_SMTP_URL is set).\n"
            )
            _serve(rt, args.host, args.port, with_worker=True)
    finally:
        loop.run_until_complete(rt.close())
    return 0


# -- worker ------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    """Deliver the outbox and fire due timers until SIGINT/SIGTERM (or one pass: ``--once``)."""
    import logging
    import signal

    from core.delivery import mailer_from_env
    from core.worker import Worker

    if not args.poll > 0:  # also refuses nan
        raise UserError(f"--poll must be more than 0 seconds (got {args.poll})")
    if args.batch < 1:
        raise UserError(f"--batch must be at least 1 (got {args.batch})")
    if not args.lease > 0:
        raise UserError(f"--lease must be more than 0 seconds (got {args.lease})")
    if args.max_attempts < 1:
        raise UserError(f"--max-attempts must be at least 1 (got {args.max_attempts})")
    if args.id is not None and (not args.id.strip() or args.id.startswith("!")):
        raise UserError("--id must be a non-empty name not starting with '!'")
    mailer = mailer_from_env()  # a bad TESSERA_SMTP_URL fails here, before connecting
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("tessera").setLevel(logging.INFO)  # a line per busy pass, deliveries

    async def run(rt: Runtime) -> int:
        async with Worker(
            rt,
            worker_id=args.id,
            lease_seconds=args.lease,
            batch=args.batch,
            max_attempts=args.max_attempts,
            mailer=mailer,
        ) as worker:
            if args.once:
                await worker.run_once()
                return 0
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def on_signal(signum: int) -> None:
                logging.getLogger("tessera.worker").info(
                    "%s: stopping after the current item", signal.Signals(signum).name
                )
                stop.set()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)  # a second signal stops at once

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, on_signal, sig)
            logging.getLogger("tessera.worker").info(
                "worker %s started (poll %.1f s, batch %d, lease %.0f s)",
                worker.worker_id,
                args.poll,
                args.batch,
                args.lease,
            )
            await worker.run(stop, args.poll)
        return 0

    return asyncio.run(_with_runtime(run))


# -- parser --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crm",
        description="Tessera CRM. Database: TESSERA_DATABASE_URL "
        "(sqlite:///path.db or postgresql://...), default sqlite:///tessera.db",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="create demo tenants with sample data and serve them")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--configs", help="folder of tenant configs (default: tenant_configs/)")
    p.add_argument("--no-serve", action="store_true", help="load the demo and exit")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve the HTTP API")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.set_defaults(func=cmd_serve)

    tenant = sub.add_parser("tenant", help="tenant configurations").add_subparsers(
        dest="tenant_command", required=True
    )
    p = tenant.add_parser("validate", help="check config files; every problem is located")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_tenant_validate)
    p = tenant.add_parser(
        "apply",
        help="apply config files (each atomically, as a new version), then re-index",
        description="Each config is committed first (served at once); records whose index "
        "slots it re-maps are then re-indexed in short batches, with progress. Queries "
        "are correct meanwhile (fields being re-indexed are read from the stored values).",
    )
    p.add_argument("files", nargs="+")
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="return once committed; `crm worker` or `crm tenant reindex` does the re-index",
    )
    p.add_argument("--batch", type=int, metavar="N", help="records per re-index batch")
    p.set_defaults(func=cmd_tenant_apply)
    p = tenant.add_parser(
        "reindex",
        help="run or resume a tenant's pending re-index (after an interrupted apply)",
    )
    p.add_argument("tenant")
    p.add_argument("--batch", type=int, metavar="N", help="records per batch (default 5000)")
    p.set_defaults(func=cmd_tenant_reindex)
    p = tenant.add_parser(
        "plan", help="show what applying config files would change and the records it touches"
    )
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_tenant_plan)
    p = tenant.add_parser(
        "test", help="run the test cases in config files, each in a scratch database"
    )
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_tenant_test)
    p = tenant.add_parser("list", help="list tenants")
    p.set_defaults(func=cmd_tenant_list)
    p = tenant.add_parser(
        "export",
        help="write one tenant's configs, records, audit, users and files to a backup file",
        description="The file holds password and token hashes: keep it as safe as the database.",
    )
    p.add_argument("tenant")
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="default <tenant>-<UTC time>.tessera.jsonl.gz; '-' writes to stdout",
    )
    p.set_defaults(func=cmd_tenant_export)
    p = tenant.add_parser(
        "import", help="restore a tenant export into a database that does not have the tenant"
    )
    p.add_argument("file")
    p.set_defaults(func=cmd_tenant_import)

    user = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="add a user to a tenant")
    p.add_argument("tenant")
    p.add_argument("email")
    p.add_argument("--role", action="append", required=True, help="may be repeated")
    p.add_argument("--password", help="prompted when omitted")
    p.add_argument("--name")
    p.add_argument(
        "--manager", metavar="EMAIL", help="who approves for this user (approval steps by manager)"
    )
    p.set_defaults(func=cmd_user_add)

    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    p = token.add_parser("create", help="print a new bearer token for a user")
    p.add_argument("tenant")
    p.add_argument("email")
    p.add_argument("--label")
    p.add_argument(
        "--expires-in",
        type=float,
        metavar="DAYS",
        help="the token stops working after this many days (default: until revoked)",
    )
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("revoke", help="revoke a bearer token")
    p.add_argument("token")
    p.set_defaults(func=cmd_token_revoke)

    p = sub.add_parser("import", help="create records from a CSV file (all or nothing)")
    p.add_argument("tenant")
    p.add_argument("entity")
    p.add_argument("file")
    p.add_argument("--as", dest="as_user", required=True, metavar="EMAIL", help="acting user")
    p.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write the records a user may read as CSV")
    p.add_argument("tenant")
    p.add_argument("entity")
    p.add_argument("--as", dest="as_user", required=True, metavar="EMAIL", help="acting user")
    p.add_argument("--output", "-o", help="a file (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("schema", help="print a tenant's GraphQL SDL")
    p.add_argument("tenant")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser(
        "worker",
        help="deliver the outbox (plugins, email, webhooks) and fire due timers",
        description="Runs until SIGINT/SIGTERM, finishing the item in hand. Email: "
        "TESSERA_SMTP_URL (smtp://[user:pass@]host:port[?starttls=1] or smtps://...) and "
        "TESSERA_MAIL_FROM; without them emails are only logged. Webhook signatures: "
        "TESSERA_WEBHOOK_SECRET.",
    )
    p.add_argument("--once", action="store_true", help="run one pass and exit")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="idle wait")
    p.add_argument("--id", help="worker name shown in leases (default host:pid:random)")
    p.add_argument("--batch", type=int, default=50, metavar="N", help="claims per tenant")
    p.add_argument(
        "--lease",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a claim is held before another worker may take it over",
    )
    p.add_argument("--max-attempts", type=int, default=10, metavar="N")
    p.set_defaults(func=cmd_worker)

    plugin = sub.add_parser("plugin", help="plugins").add_subparsers(
        dest="plugin_command", required=True
    )
    p = plugin.add_parser("list", help="installed plugins")
    p.set_defaults(func=cmd_plugin_list)
    p = plugin.add_parser("new", help="write a new plugin package to start from")
    p.add_argument("name", help="the plugin name (entry point and manifest name), e.g. acme_rating")
    p.add_argument("--dir", default=".", help="where to create its folder (default: here)")
    p.set_defaults(func=cmd_plugin_new)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        _print_problems(err.problems)
        return 1
    except TesseraError as err:
        print(f"error: {err.code}: {err.message}", file=sys.stderr)
        _print_problems(err.problems)
        return 1
    except (OSError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""A built wheel, installed into a fresh virtualenv, validates and serves a tenant."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str | Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_installed_wheel_validates_and_serves(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--outdir",
        dist,
        ROOT,
        env=dict(os.environ),
        cwd=ROOT,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("tessera_crm-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = _run(venv / "bin" / "pip", "install", "-q", wheel, env=dict(os.environ), cwd=tmp_path)
    assert pip.returncode == 0, pip.stderr[-2000:]

    # Run from an empty folder: nothing of the checkout may be used.
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "TESSERA_DATABASE_URL": f"sqlite:///{work / 'wheel.db'}"}
    env.pop("PYTHONPATH", None)
    crm = venv / "bin" / "crm"
    config = work / "acme.json"
    config.write_text((ROOT / "tests" / "fixtures" / "acme.json").read_text())

    listed = _run(crm, "plugin", "list", env=env, cwd=work)
    assert listed.returncode == 0 and "sales" in listed.stdout, listed.stderr
    shipped = _run(
        venv / "bin" / "python",
        "-c",
        "from core.demo import demo_configs_dir; print(demo_configs_dir())",
        env=env,
        cwd=work,
    )
    assert "_demo_tenants" in shipped.stdout, shipped.stderr
    assert _run(crm, "tenant", "validate", config, env=env, cwd=work).returncode == 0
    bad = work / "bad.json"
    bad.write_text(json.dumps({"tenant": "Bad Name"}))
    invalid = _run(crm, "tenant", "validate", bad, env=env, cwd=work)
    assert invalid.returncode == 1 and "#/tenant: SCHEMA_PATTERN" in invalid.stderr
    assert _run(crm, "tenant", "apply", config, env=env, cwd=work).returncode == 0
    added = _run(
        crm,
        "user",
        "add",
        "acme",
        "a@example.com",
        "--role",
        "admin",
        "--password",
        "password123",
        env=env,
        cwd=work,
    )
    assert added.returncode == 0, added.stderr
    token = _run(crm, "token", "create", "acme", "a@example.com", env=env, cwd=work).stdout.strip()

    port = _free_port()
    server = subprocess.Popen(
        [str(crm), "serve", "--port", str(port)],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    assert json.load(r)["status"] == "ok"
                break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/t/acme/graphql",
            data=json.dumps(
                {"query": 'mutation { createPart(input: {name: "Bolt"}) { name version } }'}
            ).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert json.load(r) == {"data": {"createPart": {"name": "Bolt", "version": 1}}}
    finally:
        server.terminate()
        server.wait(timeout=10)

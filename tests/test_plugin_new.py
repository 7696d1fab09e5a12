"""``crm plugin new``: the package it writes loads as a plugin and passes its own tests."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.config import validate_config
from core.plugins import read_manifest
from core.testing import plugin_host

ROOT = Path(__file__).resolve().parent.parent


def test_the_new_plugin_loads_validates_and_passes_its_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "new", "acme_rating", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "acme-rating"
    assert f"created {root}" in capsys.readouterr().out
    assert (root / "pyproject.toml").read_text().count('acme_rating = "acme_rating"') == 1

    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("acme_rating")
        manifest = read_manifest(module)
        assert manifest["name"] == "acme_rating"
        host = plugin_host(module)
        assert host.failures == [] and "acme_rating" in host.names
        doc = {
            "tenant": "rating",
            "name": {"en": "Rating"},
            "locales": ["en"],
            "currency": "EUR",
            "timezone": "UTC",
            "plugins": ["acme_rating"],
        }
        model, problems = validate_config(doc, host.contributions())
        assert problems == [] and model is not None
        assert "acme_rating_item" in model.entities
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("acme_rating", None)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(ROOT)])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    json.loads((root / "acme_rating" / "manifest.json").read_text())


@pytest.mark.parametrize("name", ["Acme", "1abc", "acme-rating", "a"])
def test_a_bad_name_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["plugin", "new", name, "--dir", str(tmp_path)]) == 1
    assert "is not a plugin name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "acme-rating").mkdir()
    assert main(["plugin", "new", "acme_rating", "--dir", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert list((tmp_path / "acme-rating").iterdir()) == []

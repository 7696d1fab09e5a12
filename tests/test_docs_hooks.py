"""docs/plugin-hooks.md documents every hook, every argument, with an example."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugin-hooks.md"
_HEADING = re.compile(r"^### (tessera_\w+)\(([^)]*)\)\s*$", re.MULTILINE)
_CODE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _specs() -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(fn).parameters)
        for name, fn in vars(hookspecs).items()
        if name.startswith("tessera_") and hasattr(fn, "tessera_spec")
    }


def _sections() -> dict[str, tuple[list[str], str]]:
    text = DOC.read_text("utf-8")
    matches = list(_HEADING.finditer(text))
    out: dict[str, tuple[list[str], str]] = {}
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[m.end() : end].split("\n## ", 1)[0]
        args = [a.strip() for a in m.group(2).split(",") if a.strip()]
        out[m.group(1)] = (args, body)
    return out


SPECS = _specs()
SECTIONS = _sections()


def test_hookspecs_are_found() -> None:
    assert "tessera_pre_operation" in SPECS
    assert len(SPECS) >= 10


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hook_is_documented_with_its_arguments_and_an_example(hook: str) -> None:
    assert hook in SECTIONS, f"docs/plugin-hooks.md has no '### {hook}(...)' section"
    args, body = SECTIONS[hook]
    assert args == SPECS[hook], f"documented signature of {hook} differs from the hookspec"
    for arg in SPECS[hook]:
        assert re.search(rf"^- `{arg}` — \S", body, re.MULTILINE), (
            f"argument '{arg}' of {hook} is not described ('- `{arg}` — ...')"
        )
    examples = _CODE.findall(body)
    assert examples, f"{hook} has no python example"
    for example in examples:
        ast.parse(example)
    assert any(hook in example for example in examples)


def test_no_section_documents_a_hook_that_does_not_exist() -> None:
    assert set(SECTIONS) <= set(SPECS)


def test_every_hookspec_has_a_docstring_describing_its_arguments() -> None:
    for name, params in SPECS.items():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert doc, name
        for arg in params:
            assert f":param {arg}:" in doc, (name, arg)


PUBLISHING = DOC.with_name("plugins-publishing.md")
ACME = Path(__file__).resolve().parent / "plugins" / "acme-loyalty"


async def test_publishing_guide_test_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ACME))
    blocks = _CODE.findall(PUBLISHING.read_text("utf-8"))
    assert blocks
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, str(PUBLISHING), "exec"), namespace)
        tests = [v for k, v in namespace.items() if k.startswith("test_") and callable(v)]
        assert tests
        for test in tests:
            await test()  # type: ignore[operator]

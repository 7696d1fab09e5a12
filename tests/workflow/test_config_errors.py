"""Mistakes in processes are located: ``crm tenant validate`` prints ``file#pointer: CODE``.

Each case edits the valid ``fixtures/process.json`` in one way and expects
the command to exit 1 with a problem at the JSON pointer of the mistake. A
property test then edits it at random (states dropped or renamed, transitions
pointed anywhere) and checks that validation never crashes: the config is
either valid or every problem points at a place in the document.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.config import validate_config
from core.plugins import PluginHost
from tests.workflow.conftest import process_config

Doc = dict[str, Any]


def _wf(doc: Doc) -> Doc:
    flow: Doc = doc["workflows"]["order_flow"]
    return flow


def _t(doc: Doc, name: str) -> Doc:
    transition: Doc = _wf(doc)["transitions"][name]
    return transition


def _automation(doc: Doc, key: str, spec: Doc) -> None:
    doc["automations"][key] = spec


def _on_created(*actions: Doc) -> Doc:
    return {"entity": "order", "on": {"event": "created"}, "do": list(actions)}


def _with_quoting(doc: Doc) -> None:
    doc["plugins"] = ["sales", "quoting"]
    _automation(doc, "recalc", _on_created({"type": "plugin_action", "action": "quoting.nope"}))


WF = "/workflows/order_flow"

#: (id, mistake, pointer, code)
CASES: list[tuple[str, Callable[[Doc], None], str, str]] = [
    (
        "transition to an unknown state",
        lambda d: _t(d, "confirm").update(to="nowhere"),
        f"{WF}/transitions/confirm/to",
        "STATE_UNKNOWN",
    ),
    (
        "transition from an unknown state",
        lambda d: _t(d, "confirm").update({"from": ["draft", "limbo"]}),
        f"{WF}/transitions/confirm/from/1",
        "STATE_UNKNOWN",
    ),
    (
        "approval waiting in an unknown state",
        lambda d: _t(d, "confirm")["approval"].update(pending_state="limbo"),
        f"{WF}/transitions/confirm/approval/pending_state",
        "STATE_UNKNOWN",
    ),
    (
        "transition from a final state",
        lambda d: _t(d, "ship").update({"from": ["confirmed", "shipped"]}),
        f"{WF}/transitions/ship/from/1",
        "TRANSITION_FROM_FINAL",
    ),
    (
        "two initial states",
        lambda d: _wf(d)["states"]["pending"].update(initial=True),
        f"{WF}/states",
        "WORKFLOW_INITIAL",
    ),
    (
        "no initial state",
        lambda d: _wf(d)["states"]["draft"].pop("initial"),
        f"{WF}/states",
        "WORKFLOW_INITIAL",
    ),
    (
        "status field not an enum",
        lambda d: _wf(d).update(field="title"),
        f"{WF}/field",
        "WORKFLOW_FIELD_TYPE",
    ),
    (
        "state not an option of the status field",
        lambda d: _wf(d)["states"].update(archived={"final": True}),
        f"{WF}/states/archived",
        "STATE_UNKNOWN",
    ),
    (
        "guard not boolean",
        lambda d: _t(d, "confirm").update(guard="record.total.amount"),
        f"{WF}/transitions/confirm/guard",
        "EXPRESSION_TYPE",
    ),
    (
        "guard syntax error",
        lambda d: _t(d, "confirm").update(guard="record.total.amount <="),
        f"{WF}/transitions/confirm/guard",
        "EXPRESSION_INVALID",
    ),
    (
        "unknown field in a rule's expression",
        lambda d: d["entities"]["order"]["rules"][0].update(expression="record.rebate <= 50.0"),
        "/entities/order/rules/0/expression",
        "EXPRESSION_UNKNOWN_FIELD",
    ),
    (
        "unknown field a rule reports on",
        lambda d: d["entities"]["order"]["rules"][0].update(field="rebate"),
        "/entities/order/rules/0/field",
        "FIELD_UNKNOWN",
    ),
    (
        "unknown required field",
        lambda d: _t(d, "confirm").update(required_fields=["customer", "rebate"]),
        f"{WF}/transitions/confirm/required_fields/1",
        "FIELD_UNKNOWN",
    ),
    (
        "unknown read-only field",
        lambda d: _wf(d)["states"]["confirmed"].update(read_only=["discount", "rebate"]),
        f"{WF}/states/confirmed/read_only/1",
        "FIELD_UNKNOWN",
    ),
    (
        "unknown role on a transition",
        lambda d: _t(d, "ship").update(roles=["manager", "director"]),
        f"{WF}/transitions/ship/roles/1",
        "ROLE_UNKNOWN",
    ),
    (
        "unknown approver role",
        lambda d: _t(d, "confirm")["approval"]["steps"][1]["approvers"].update(roles=["auditor"]),
        f"{WF}/transitions/confirm/approval/steps/1/approvers/roles/0",
        "ROLE_UNKNOWN",
    ),
    (
        "unknown role to notify",
        lambda d: d["automations"]["note_high"]["do"][0]["to"].update(roles=["ops"]),
        "/automations/note_high/do/0/to/roles/0",
        "ROLE_UNKNOWN",
    ),
    (
        "timer on a text field",
        lambda d: d["timers"]["ship_reminder"].update(field="title"),
        "/timers/ship_reminder/field",
        "TIMER_FIELD_TYPE",
    ),
    (
        "fields on a created trigger",
        lambda d: d["automations"]["note_high"].update(
            on={"event": "created", "fields": ["priority"]}
        ),
        "/automations/note_high/on/fields",
        "TRIGGER_INVALID",
    ),
    (
        "target state on a field_changed trigger",
        lambda d: d["automations"]["note_high"]["on"].update(to="shipped"),
        "/automations/note_high/on/to",
        "TRIGGER_INVALID",
    ),
    (
        "transitioned trigger on an entity without a workflow",
        lambda d: _automation(
            d,
            "welcome",
            {
                "entity": "customer",
                "on": {"event": "transitioned"},
                "do": [{"type": "webhook", "url": "https://hooks.example/x"}],
            },
        ),
        "/automations/welcome/on/event",
        "WORKFLOW_MISSING",
    ),
    (
        "set_fields on the status field",
        lambda d: _t(d, "confirm")["actions"][0]["values"].update(status="shipped"),
        f"{WF}/transitions/confirm/actions/0/values/status",
        "STATUS_BY_TRANSITION",
    ),
    (
        "create_record linked by a field that is not a relation to the record",
        lambda d: _automation(
            d,
            "make_customer",
            _on_created(
                {
                    "type": "create_record",
                    "entity": "customer",
                    "values": {"name": "x"},
                    "link_field": "owner",
                }
            ),
        ),
        "/automations/make_customer/do/0/link_field",
        "LINK_FIELD",
    ),
    (
        "plugin_action of a plugin that is not enabled",
        lambda d: _automation(
            d, "send", _on_created({"type": "plugin_action", "action": "invoicing.send"})
        ),
        "/automations/send/do/0/action",
        "PLUGIN_NOT_ENABLED",
    ),
    (
        "plugin_action the plugin does not have",
        _with_quoting,
        "/automations/recalc/do/0/action",
        "ACTION_UNKNOWN",
    ),
    (
        "start_timer of an unknown timer",
        lambda d: d["automations"]["start_follow_up"]["do"][0].update(timer="reminder"),
        "/automations/start_follow_up/do/0/timer",
        "TIMER_UNKNOWN",
    ),
    (
        "timer trigger of an unknown timer",
        lambda d: d["automations"]["follow_up_task"]["on"].update(timer="reminder"),
        "/automations/follow_up_task/on/timer",
        "TIMER_UNKNOWN",
    ),
    (
        "a literal value of the wrong type",
        lambda d: _t(d, "confirm")["actions"][0]["values"].update(priority="urgent"),
        f"{WF}/transitions/confirm/actions/0/values/priority",
        "ENUM",
    ),
    (
        "a time of day on an hours offset",
        lambda d: d["timers"]["follow_up"].update(
            offset={"amount": 3, "unit": "hours", "at": "09:00"}
        ),
        "/timers/follow_up/offset/at",
        "OFFSET_AT_UNIT",
    ),
]


def test_the_fixture_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parent.parent / "fixtures" / "process.json"
    assert main(["tenant", "validate", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: valid"


@pytest.mark.parametrize(
    ("mistake", "pointer", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validate_locates_the_mistake(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mistake: Callable[[Doc], None],
    pointer: str,
    code: str,
) -> None:
    doc = process_config()
    mistake(doc)
    path = tmp_path / "proc.json"
    path.write_text(json.dumps(doc))
    assert main(["tenant", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}#{pointer}: {code}: " in err, err
    assert "Traceback" not in err


def test_a_status_set_by_an_expression_is_located_at_the_expression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = process_config()
    doc["automations"]["note_high"]["do"].append(
        {"type": "set_fields", "expressions": {"status": "'shipped'"}}
    )
    path = tmp_path / "proc.json"
    path.write_text(json.dumps(doc))
    assert main(["tenant", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}#/automations/note_high/do/1/expressions/status: STATUS_BY_TRANSITION" in err, (
        err
    )


# -- random edits never crash validation ------------------------------------------------------

BASE = process_config()
STATES = sorted(BASE["workflows"]["order_flow"]["states"])
TRANSITIONS = sorted(BASE["workflows"]["order_flow"]["transitions"])
ORDER_FIELDS = sorted(BASE["entities"]["order"]["fields"])
KEYS = st.one_of(
    st.sampled_from([*STATES, "limbo", "on_hold"]),
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
)
_HOST: list[PluginHost] = []


def _contributions() -> Any:
    if not _HOST:
        _HOST.append(PluginHost.from_entry_points())
    return _HOST[0].contributions()


def _apply(doc: Doc, edit: tuple[Any, ...]) -> None:
    """One random edit; an edit of something an earlier edit removed does nothing."""
    wf = _wf(doc)
    kind, target = edit[0], edit[1]
    states: Doc = wf["states"]
    transitions: Doc = wf["transitions"]
    t: Doc | None = transitions.get(target) if isinstance(target, str) else None
    approval = (transitions.get("confirm") or {}).get("approval")
    status: Doc | None = doc["entities"]["order"]["fields"].get("status")
    if kind == "drop_state":
        states.pop(target, None)
    elif kind == "rename_state" and target in states:
        states[edit[2]] = states.pop(target)
    elif kind == "retarget" and t is not None:
        t["to"] = edit[2]
    elif kind == "add_source" and t is not None:
        t["from"] = sorted({*(t["from"] if t["from"] != "*" else ()), edit[2]})
    elif kind == "drop_option" and status is not None:
        status["options"] = [o for o in status["options"] if o["value"] != target] or status[
            "options"
        ]
    elif kind == "rename_option" and status is not None:
        for option in status["options"]:
            if option["value"] == target:
                option["value"] = edit[2]
    elif kind in ("pending_state", "reject_to") and approval is not None:
        approval[kind] = target
    elif kind == "trigger_to":
        doc["automations"]["start_follow_up"]["on"]["to"] = target
    elif kind == "drop_field":
        doc["entities"]["order"]["fields"].pop(target, None)
    elif kind == "drop_timer":
        doc["timers"].pop(target, None)
    elif kind == "drop_transition":
        transitions.pop(target, None)


EDITS = st.one_of(
    st.tuples(st.just("drop_state"), st.sampled_from(STATES)),
    st.tuples(st.just("rename_state"), st.sampled_from(STATES), KEYS),
    st.tuples(st.just("retarget"), st.sampled_from(TRANSITIONS), KEYS),
    st.tuples(st.just("add_source"), st.sampled_from(TRANSITIONS), KEYS),
    st.tuples(st.just("drop_option"), st.sampled_from(STATES)),
    st.tuples(st.just("rename_option"), st.sampled_from(STATES), KEYS),
    st.tuples(st.just("pending_state"), KEYS),
    st.tuples(st.just("reject_to"), KEYS),
    st.tuples(st.just("trigger_to"), KEYS),
    st.tuples(st.just("drop_field"), st.sampled_from(ORDER_FIELDS)),
    st.tuples(st.just("drop_timer"), st.sampled_from(sorted(BASE["timers"]))),
    st.tuples(st.just("drop_transition"), st.sampled_from(TRANSITIONS)),
)


def _resolves(doc: Any, pointer: str) -> bool:
    node = doc
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(EDITS, min_size=1, max_size=4))
def test_random_edits_are_valid_or_located(edits: list[tuple[Any, ...]]) -> None:
    doc = copy.deepcopy(BASE)
    for edit in edits:
        _apply(doc, edit)
    model, problems = validate_config(doc, _contributions(), file="proc.json")
    assert (model is None) == bool(problems)
    for p in problems:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", p.code), p
        assert p.file == "proc.json" and p.message, p
        assert p.path.startswith("/") and _resolves(doc, p.path), (p.located(), edits)

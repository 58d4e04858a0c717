"""Rotation, node commands and plugins (Kill Bill's `KillbillHealthcheck`, `NodesInfoResource`,
`PluginInfoResource`)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from billow.app import Billow
from billow.core.bus.tables import bus_events, bus_events_history
from billow.core.context import CallContext
from billow.core.errors import InvalidInput
from billow.core.version import KB_COMPAT_VERSION
from billow.operations.nodes import ROTATION_CHECK, NodeCommand, NodeRotation, command_metadata


def test_a_node_starts_in_rotation_and_can_leave_it() -> None:
    rotation = NodeRotation()
    assert rotation.check() == {"healthy": True, "message": "OK"}
    rotation.put_out()
    assert rotation.check() == {"healthy": False, "message": "Out of rotation"}
    rotation.put_in()
    assert rotation.in_rotation


def test_plugin_properties_become_fields_of_the_command() -> None:
    assert command_metadata([("a", 1)]) == {"properties": [{"key": "a", "value": 1}]}
    assert command_metadata([("pluginKey", "k"), ("pluginVersion", "1.0"), ("x", "y")]) == {
        "pluginKey": "k", "pluginName": None, "pluginVersion": "1.0", "properties": [{"key": "x", "value": "y"}]}


def test_health_reports_the_rotation(billow: Billow) -> None:
    try:
        billow.nodes.put_out_of_rotation(CallContext())
        assert billow.health()[ROTATION_CHECK] == {"healthy": False, "message": "Out of rotation"}
    finally:
        billow.nodes.put_in_rotation(CallContext())
    assert billow.health()[ROTATION_CHECK]["healthy"] is True


def test_no_plugins(billow: Billow, tenant_ctx: CallContext) -> None:
    assert billow.nodes.plugins(tenant_ctx) == []


def test_a_node_command_is_announced_with_the_kill_bill_version(billow: Billow) -> None:
    ctx = CallContext(user_name="ops")
    billow.nodes.trigger_command(ctx, NodeCommand("RESTART_PLUGIN", True, [("pluginName", "p"), ("force", True)]))
    assert billow.run_until_idle(20)
    with billow.db.read_connection() as conn:
        rows = [r for t in (bus_events, bus_events_history) for r in conn.execute(
            select(t.c.event_json, t.c.user_token, t.c.search_key2).where(t.c.class_name.like("%BroadcastEvent")))]
    mine = [r for r in rows if r.user_token == ctx.user_token]
    assert len(mine) == 1 and mine[0].search_key2 == 0
    event = json.loads(mine[0].event_json)
    assert event["command_type"] == "RESTART_PLUGIN"
    assert json.loads(event["event_json"]) == {
        "pluginKey": None, "pluginName": "p", "pluginVersion": None,
        "properties": [{"key": "force", "value": True}, {"key": "kbVersion", "value": KB_COMPAT_VERSION}]}
    with pytest.raises(InvalidInput, match="nodeCommandType"):
        billow.nodes.trigger_command(ctx, NodeCommand(None))

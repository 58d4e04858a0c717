"""This node's place in the cluster: rotation behind a load balancer, node commands, plugins.

Kill Bill: `KillbillHealthcheck` (platform `server/.../healthchecks/`: in or out of rotation, reported by
`GET /1.0/healthcheck`, which answers 500 while any check is unhealthy), `AdminResource.putInRotation` /
`putOutOfRotation`, `NodesInfoResource.triggerNodeCommand` (`DefaultKillbillNodesApi`: the command is
broadcast to the nodes as a BROADCAST_SERVICE event, with the node's `kbVersion` added to its properties;
plugins act on it), `PluginInfoResource` (the plugins the node runs).

Billow runs no plugins yet: the plugin list is empty, as Kill Bill's is without plugins (its built-in
`__EXTERNAL_PAYMENT__` is not listed), and a node command is announced on the bus for whatever listens to it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from billow.core.bus.event import BusEvent
from billow.core.context import CallContext, internal_context
from billow.core.db import Database
from billow.core.errors import InvalidInput
from billow.core.version import KB_COMPAT_VERSION

log = logging.getLogger("billow.operations")

ROTATION_CHECK = "org.killbill.billing.server.healthchecks.KillbillHealthcheck"
BROADCAST_SERVICE = "broadcast-service"
SYSTEM_COMMAND_TYPES = ("INSTALL_PLUGIN", "UNINSTALL_PLUGIN", "START_PLUGIN", "STOP_PLUGIN", "RESTART_PLUGIN")
_PLUGIN_KEYS = ("pluginKey", "pluginName", "pluginVersion")


class NodeRotation:
    """Whether the load balancer should send this node traffic. A node is put in rotation once it serves
    (Kill Bill's `KillbillGuiceFilter` does it when the web layer starts), and out of it on request."""

    def __init__(self) -> None:
        self._in_rotation = threading.Event()
        self._in_rotation.set()

    @property
    def in_rotation(self) -> bool:
        return self._in_rotation.is_set()

    def put_in(self) -> None:
        log.warning("putting this node in rotation")
        self._in_rotation.set()

    def put_out(self) -> None:
        log.warning("putting this node out of rotation")
        self._in_rotation.clear()

    def check(self) -> dict[str, object]:
        """The healthcheck entry: healthy and "OK" in rotation, unhealthy and "Out of rotation" out of it."""
        if self.in_rotation:
            return {"healthy": True, "message": "OK"}
        return {"healthy": False, "message": "Out of rotation"}


@dataclass(frozen=True, slots=True)
class NodeCommand:
    """Kill Bill's NodeCommandJson: a command type, whether it is a system command, and properties."""

    command_type: str | None
    is_system_command_type: bool = False
    properties: Sequence[tuple[str, Any]] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class BroadcastEvent(BusEvent):
    """BROADCAST_SERVICE: a node command for every node (Kill Bill's `BroadcastInternalEvent`)."""

    event_type = "BROADCAST_SERVICE"
    object_type = "SERVICE_BROADCAST"
    service: str = BROADCAST_SERVICE
    command_type: str = ""
    event_json: str = ""

    def meta_data(self) -> dict[str, Any] | None:
        return {"service": self.service, "commandType": self.command_type, "eventJson": self.event_json}


def command_metadata(properties: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """The command's metadata as Kill Bill serialises it (`NodesInfoResource.toNodeCommandMetadata`): plugin
    key, name and version become fields of their own when a plugin key or name is given."""
    given = dict(properties)
    if "pluginKey" in given or "pluginName" in given:
        rest = [{"key": k, "value": v} for k, v in properties if k not in _PLUGIN_KEYS]
        return {"pluginKey": given.get("pluginKey"), "pluginName": given.get("pluginName"),
                "pluginVersion": given.get("pluginVersion"), "properties": rest}
    return {"properties": [{"key": k, "value": v} for k, v in properties]}


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """Kill Bill's PluginInfoJson."""

    bundle_symbolic_name: str
    plugin_key: str
    plugin_name: str
    version: str | None
    state: str
    is_selected_for_start: bool
    services: tuple[tuple[str, str], ...] = ()


class NodeOperations:
    """The user API of node operations (REST `/1.0/kb/nodesInfo`, `/1.0/kb/pluginsInfo`,
    `/1.0/kb/admin/healthcheck`)."""

    def __init__(self, db: Database, rotation: NodeRotation) -> None:
        self.db = db
        self.rotation = rotation

    def plugins(self, ctx: CallContext) -> list[PluginInfo]:
        """The plugins this node runs: none yet."""
        return []

    def put_in_rotation(self, ctx: CallContext) -> None:
        self.rotation.put_in()

    def put_out_of_rotation(self, ctx: CallContext) -> None:
        self.rotation.put_out()

    def trigger_command(self, ctx: CallContext, command: NodeCommand, *, local_node_only: bool = False) -> None:
        """Announce a node command, with this node's Kill Bill version added to its properties."""
        if not command.command_type:
            raise InvalidInput("nodeCommandType: needs to be set")
        properties = [*command.properties, ("kbVersion", KB_COMPAT_VERSION)]
        event_json = json.dumps(command_metadata(properties), separators=(",", ":"))
        log.info("node command %s (system: %s, local node only: %s): %s", command.command_type,
                 command.is_system_command_type, local_node_only, event_json)
        # cross-tenant, as Kill Bill's broadcast events (tenant record id 0)
        with self.db.transaction(internal_context(0, user_name=ctx.user_name, user_token=ctx.user_token)) as uow:
            uow.post(BroadcastEvent(tenant_record_id=0, user_token=ctx.user_token, command_type=command.command_type,
                                    event_json=event_json))

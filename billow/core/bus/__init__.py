"""The persistent bus and notification queue (DESIGN.md, Bus and notification queue)."""

from billow.core.bus.event import BusEvent

__all__ = ["BusEvent"]

"""Finding payment plugins (entry points `billow.payment_plugins`) and a tenant's configuration of one.

Kill Bill's `OSGIServiceRegistration<PaymentPluginApi>`: plugins are registered by name. Billow loads every
entry point of the group once, at start; tests and embedding programs may `register` more. A tenant's
configuration of a plugin is the text uploaded with `POST /1.0/kb/tenants/uploadPluginConfig/{pluginName}`
(tenant key `PLUGIN_CONFIG_<pluginName>`), read through the tenant service's internal API in the caller's
unit of work, before the plugin is called outside it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from billow.core.db.uow import UnitOfWork
from billow.payment.control_api import CONTROL_ENTRY_POINT_GROUP, PaymentControlPluginApi
from billow.payment.plugin_api import ENTRY_POINT_GROUP, PaymentPluginApi, PluginConfig
from billow.tenant.internal import TenantInternalApi

log = logging.getLogger(__name__)

PLUGIN_CONFIG_PREFIX = "PLUGIN_CONFIG_"


class PaymentPluginRegistry:
    """Plugins by name. Thread-safe; a plugin's factory runs once. Control plugins (`control_api`) are looked up
    in their own group with `control`."""

    def __init__(self, *, discover: bool = True) -> None:
        self._lock = threading.Lock()
        self._plugins: dict[str, PaymentPluginApi] = {}
        self._factories: dict[str, Callable[[], PaymentPluginApi]] = {}
        self._controls: dict[str, PaymentControlPluginApi] = {}
        self._control_factories: dict[str, Callable[[], object]] = {}
        if discover:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._factories.setdefault(ep.name, _lazy(ep.load))
            for ep in entry_points(group=CONTROL_ENTRY_POINT_GROUP):
                self._control_factories.setdefault(ep.name, _lazy(ep.load))

    def register_control(self, name: str, plugin: PaymentControlPluginApi) -> None:
        with self._lock:
            self._controls[name] = plugin

    def control(self, name: str) -> PaymentControlPluginApi | None:
        """The control plugin of that name, or None."""
        with self._lock:
            found = self._controls.get(name)
            if found is None and name in self._control_factories:
                try:
                    made = self._control_factories[name]()
                except Exception:  # a broken package must not stop the others
                    log.exception("payment control plugin %s failed to load", name)
                    return None
                if isinstance(made, PaymentControlPluginApi):
                    found = self._controls[name] = made
            return found

    def register(self, name: str, plugin: PaymentPluginApi) -> None:
        with self._lock:
            self._plugins[name] = plugin

    def names(self) -> list[str]:
        with self._lock:
            return sorted(set(self._plugins) | set(self._factories))

    def get(self, name: str) -> PaymentPluginApi | None:
        """The plugin of that name, or None (Kill Bill: `PAYMENT_NO_SUCH_PAYMENT_PLUGIN`)."""
        with self._lock:
            plugin = self._plugins.get(name)
            if plugin is not None:
                return plugin
            factory = self._factories.get(name)
            if factory is None:
                return None
            try:
                plugin = factory()
            except Exception:  # a broken gateway package must not stop the others
                log.exception("payment plugin %s failed to load", name)
                return None
            if not isinstance(plugin, PaymentPluginApi):
                log.error("payment plugin %s is not a PaymentPluginApi", name)
                return None
            self._plugins[name] = plugin
            return plugin


def _lazy(load: Callable[[], object]) -> Callable[[], PaymentPluginApi]:
    def make() -> PaymentPluginApi:
        target = load()
        made = target() if callable(target) and not isinstance(target, PaymentPluginApi) else target
        return made  # type: ignore[return-value]  # checked by the registry
    return make


def plugin_config(uow: UnitOfWork, tenants: TenantInternalApi, plugin_name: str) -> PluginConfig:
    """The caller's tenant's configuration of `plugin_name` (empty when none was uploaded)."""
    return PluginConfig.parse(plugin_name, tenants.first_value(uow, PLUGIN_CONFIG_PREFIX + plugin_name))

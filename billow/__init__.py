"""Billow: subscription billing and payments, wire-compatible with Kill Bill."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from billow.core.version import KB_COMPAT_VERSION, __version__

if TYPE_CHECKING:
    from billow.app import Billow


def __getattr__(name: str) -> Any:
    if name == "Billow":
        from billow.app import Billow

        return Billow
    raise AttributeError(name)


__all__ = ["KB_COMPAT_VERSION", "Billow", "__version__"]

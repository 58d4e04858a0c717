"""Billow: subscription billing and payments, wire-compatible with Kill Bill."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
KB_COMPAT_VERSION = "0.24.10"

if TYPE_CHECKING:
    from billow.app import Billow


def __getattr__(name: str) -> Any:
    if name == "Billow":
        from billow.app import Billow

        return Billow
    raise AttributeError(name)


__all__ = ["Billow", "__version__"]

"""Billow's version and the Kill Bill API version it speaks."""

__version__ = "0.1.0"
KB_COMPAT_VERSION = "0.24.10"

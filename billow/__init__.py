"""Billow: subscription billing and payments, wire-compatible with Kill Bill."""

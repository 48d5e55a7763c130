"""Images bundled with patchdna (public domain; see ATTRIBUTION.md)."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
DEFAULT_IMAGE = ASSETS / "hubble_deep_field.png"

__all__ = ["ASSETS", "DEFAULT_IMAGE"]

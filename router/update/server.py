"""The update-server client: a stub with the interface the web UI's routes use; the real module
(manifest check and download through the update service) replaces it."""

from __future__ import annotations

from typing import Any


class ServerError(RuntimeError):
    """The update server could not be reached or answered nonsense."""


def check(url: str) -> dict[str, Any]:
    """{"available", "version", "url", "sha256", "size", "running_version"} of ``url``."""
    raise ServerError("not implemented")


def download(url_or_entry: str | dict[str, Any], service: Any) -> str:
    """Stream the firmware into ``service.receive``; its sha256."""
    raise ServerError("not implemented")

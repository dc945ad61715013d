"""What several pages share: saving a configuration and reporting what it did."""

from __future__ import annotations

import re

from flask import flash

from router.model import RouterConfig
from router.plan import restart_label
from webui.backend import ApplyResult
from webui.security import state

_ASCII_NUMBER = re.compile(r"[0-9]{1,9}")


def form_number(text: str):
    """A form field as an int when it is plain ASCII digits, else the text as typed, for the
    model to refuse by name. Not str.isdigit(): "²" and "٣" pass it and int() fails or reads
    them."""
    text = text.strip()
    return int(text) if _ASCII_NUMBER.fullmatch(text) else text


def save_and_report(config: RouterConfig, what: str) -> ApplyResult:
    result = state().backend.apply_config(config)
    if result.restart_required:  # never "applied" while part of it waits
        labels = ", ".join(restart_label(f) for f in result.restart_required)
        flash(f"{what} saved. Restart needed for: {labels} (the rest is applied). "
              "Reboot from the System page.", "warn")  # fmt: skip
    else:
        flash(f"{what} saved and applied.", "ok")
    if result.connections_reset:
        flash("The NAT behaviour changed: existing connections were reset.", "warn")
    for field, message in config.warnings():  # legal, applied, but worth a second look
        flash(f"Note ({field}): {message}.", "warn")
    return result

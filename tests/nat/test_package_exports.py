"""The nat package's public names load on demand: the UI and routerctl use the configuration
model without paying for the engine (a tenth of a second of the appliance's boot)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import nat

pytestmark = pytest.mark.unit


def test_every_public_name_is_the_defining_modules_own() -> None:
    assert sorted(nat.__all__) == sorted(nat._EXPORTS)
    for name, module in nat._EXPORTS.items():
        assert getattr(nat, name) is getattr(importlib.import_module(module), name)
    with pytest.raises(AttributeError, match="no attribute 'Enigne'"):
        nat.Enigne  # noqa: B018


def test_the_configuration_model_does_not_load_the_engine() -> None:
    probe = "import sys, router.model, router.store; print('nat.engine' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

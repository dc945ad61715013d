"""Every passthrough helper documents itself, and the README shows exactly that."""

import sys
from pathlib import Path

from nat.passthrough import HELPER_CLASSES, default_helpers, protocol_table

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_helper_is_documented():
    for cls in HELPER_CLASSES:
        for attribute in (
            "title",
            "carries",
            "security",
            "use_case",
            "when_enabled",
            "when_disabled",
            "default_reason",
        ):
            assert getattr(cls, attribute), f"{cls.__name__}.{attribute} is empty"
        module_doc = sys.modules[cls.__module__].__doc__ or ""
        assert "isabled" in module_doc, f"{cls.__module__} does not say what disabling does"


def test_readme_table_matches_the_code():
    assert protocol_table() in README.read_text()


def test_defaults_are_off_except_sstp():
    defaults = {cls.name: cls.default_enabled for cls in HELPER_CLASSES}
    assert defaults == {
        "pptp": False,
        "l2tp": False,
        "ipsec": False,
        "sstp": True,
        "sip": False,
        "rtsp": False,
    }


def test_all_helpers_share_one_monitor():
    helpers = default_helpers()
    assert len({id(h.monitor) for h in helpers}) == 1

"""natbox's hardware-in-the-loop kit: a pytest plugin (natbox.hil.plugin, loaded through the
``pytest11`` entry point) that puts a user's own tests, clients and devices behind the virtual
router, in netns mode (natbox's datapath in a namespace) or vm mode (the firmware under QEMU).

    import pytest
    from natbox.hil import PROFILE_NAMES

    @pytest.mark.natbox(profile=PROFILE_NAMES, passthrough={"ipsec": [True, False]})
    def test_my_vpn_client(router, lan_client, internet, natbox_state): ...
"""

from natbox.hil.api import ApiError, RouterApi
from natbox.hil.hosts import Background, Host
from natbox.hil.router import DEFAULT_PROFILE, PROFILE_NAMES, Forward, Router
from natbox.hil.state import RouterState

__all__ = ["DEFAULT_PROFILE", "PROFILE_NAMES", "ApiError", "Background", "Forward", "Host",
           "Router", "RouterApi", "RouterState"]  # fmt: skip

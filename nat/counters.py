"""Drop reasons and the engine's counters.

Every packet the engine does not forward is counted under exactly one reason, so the
counters answer "where did my packet go" without a capture.
"""

from __future__ import annotations

from collections import Counter

# Header validation.
MALFORMED_SHORT = "malformed_short"
MALFORMED_VERSION = "malformed_version"
MALFORMED_HEADER_LENGTH = "malformed_header_length"
MALFORMED_TOTAL_LENGTH = "malformed_total_length"
MALFORMED_CHECKSUM = "malformed_checksum"
MALFORMED_TRANSPORT = "malformed_transport"
MALFORMED_ICMP = "malformed_icmp"
# Routing.
TTL_EXCEEDED = "ttl_exceeded"
NOT_ROUTABLE = "not_routable"
LAN_LOCAL = "lan_local"
SPOOFED_SOURCE = "spoofed_source"
NOT_FOR_US = "not_for_us"
FRAG_NEEDED = "frag_needed"
# Fragments.
FRAGMENT_UNMATCHED = "fragment_unmatched"
FRAGMENT_BUFFER_FULL = "fragment_buffer_full"
FRAGMENT_EXPIRED = "fragment_expired"
# Firewall and NAT.
FILTERED = "filtered"
NO_MAPPING = "no_mapping"
HAIRPIN_DISABLED = "hairpin_disabled"
PORTS_EXHAUSTED = "ports_exhausted"
HOST_QUOTA = "host_quota"
PROTOCOL_UNSUPPORTED = "protocol_unsupported"
ICMP_UNSUPPORTED = "icmp_unsupported"
ICMP_ERROR_NO_MAPPING = "icmp_error_no_mapping"
TCP_INVALID = "tcp_invalid"
HELPER_DROP = "helper_drop"


def disabled(helper_name: str) -> str:
    """The reason for traffic a disabled passthrough/ALG blocks."""
    return f"{helper_name}_disabled"


class Counters(Counter):
    """Counter of drop reasons and forwarding totals; ``snapshot`` is a plain dict copy."""

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.items()))

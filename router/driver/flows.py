"""Flow offloading, the kernel's side: the flows the engine offloads, forwarded at ingress.

The engine offers established plain flows and withdraws them (nat.offload); this module
turns each into one nftables chain per direction in a netdev table on the two interfaces:
a counter, the stateless rewrite of address and port, the next hop's MAC, TTL - 1 and
``fwd`` out of the other interface, the way OpenWrt's software flow offloading skips the
forwarding path. The datapath's packet sockets are bound to IPv4 and ARP (not ETH_P_ALL), so
they see a frame only after the ingress hook: an offloaded packet never reaches Python. What
the engine must see (SYN/FIN/RST, fragments, TTL <= 1, every packet of a flow not offloaded)
passes the hook untouched. Changes are batched: one ``nft -f -`` for what a wake-up brought.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable

from nat.actions import Flow

PROTO_NAMES = {6: "tcp", 17: "udp"}


def table_name(lan: str, wan: str) -> str:
    return "natbox_flows_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{lan}_{wan}")


def _ip(endpoint: bytes) -> str:
    return ".".join(map(str, endpoint[:4]))


def _port(endpoint: bytes) -> int:
    return int.from_bytes(endpoint[4:6], "big")


def _mac(mac: bytes) -> str:
    return mac.hex(":")


def base_ruleset(table: str, lan: str, wan: str, lan_mac: bytes, wan_mac: bytes) -> str:
    """The table without flows: the ingress chains, the flow maps and TTL - 1 (nft cannot
    compute it, so a map sends each TTL to a chain that sets the one below)."""
    ttl_chains = "\n".join(f"    chain ttl_{t} {{ ip ttl set {t - 1}; }}" for t in range(2, 256))
    ttl_map = ", ".join(f"{t} : jump ttl_{t}" for t in range(2, 256))
    key = "inet_proto . ipv4_addr . inet_service . ipv4_addr . inet_service"
    lookup = "ip protocol . ip saddr . th sport . ip daddr . th dport"

    def ingress(name: str, device: str, flows: str) -> str:
        return f"""    chain {name} {{
        type filter hook ingress device "{device}" priority -600; policy accept;
        ip ttl < 2 accept comment "the engine answers with ICMP time exceeded"
        ip frag-off & 0x3fff != 0 accept comment "fragments: the engine's"
        tcp flags & (fin | syn | rst) != 0 accept comment "the engine follows the state"
        {lookup} vmap @{flows}
    }}"""

    return f"""table netdev {table} {{
{ttl_chains}
    map ttl_dec {{ typeof ip ttl : verdict; elements = {{ {ttl_map} }} }}
    map lan_flows {{ type {key} : verdict; }}
    map wan_flows {{ type {key} : verdict; }}
    chain to_wan {{
        ip ttl vmap @ttl_dec
        ether saddr set {_mac(wan_mac)} fwd to "{wan}"
    }}
    chain to_lan {{
        ip ttl vmap @ttl_dec
        ether saddr set {_mac(lan_mac)} fwd to "{lan}"
    }}
{ingress("lan_ingress", lan, "lan_flows")}
{ingress("wan_ingress", wan, "wan_flows")}
}}
"""


def _key(proto: int, source: bytes, destination: bytes) -> str:
    src, dst = f"{_ip(source)} . {_port(source)}", f"{_ip(destination)} . {_port(destination)}"
    return f"{PROTO_NAMES[proto]} . {src} . {dst}"


def lan_key(flow: Flow) -> str:
    return _key(flow.proto, flow.internal, flow.remote)


def wan_key(flow: Flow) -> str:
    return _key(flow.proto, flow.remote, flow.external)


def add_commands(table: str, flow: Flow, host_mac: bytes, hop_mac: bytes) -> list[str]:
    """A flow's two chains and map entries: outbound leaves as external -> remote to the WAN
    next hop, inbound goes to internal at the LAN host."""
    proto, n = PROTO_NAMES[flow.proto], flow.ident
    out_rewrite = (
        f"counter ip saddr set {_ip(flow.external)} {proto} sport set {_port(flow.external)} "
        f"ether daddr set {_mac(hop_mac)} goto to_wan"
    )
    in_rewrite = (
        f"counter ip daddr set {_ip(flow.internal)} {proto} dport set {_port(flow.internal)} "
        f"ether daddr set {_mac(host_mac)} goto to_lan"
    )
    return [
        f"add chain netdev {table} f{n}_out {{ {out_rewrite}; }}",
        f"add chain netdev {table} f{n}_in {{ {in_rewrite}; }}",
        f"add element netdev {table} lan_flows {{ {lan_key(flow)} : jump f{n}_out }}",
        f"add element netdev {table} wan_flows {{ {wan_key(flow)} : jump f{n}_in }}",
    ]


def remove_commands(table: str, flow: Flow) -> list[str]:
    n = flow.ident
    return [
        f"delete element netdev {table} lan_flows {{ {lan_key(flow)} }}",
        f"delete element netdev {table} wan_flows {{ {wan_key(flow)} }}",
        f"delete chain netdev {table} f{n}_out",
        f"delete chain netdev {table} f{n}_in",
    ]


_FLOW_CHAIN = re.compile(r"f(\d+)_(out|in)$")


def counts_from_listing(listing: dict) -> dict[int, tuple[int, int]]:
    """(outbound, inbound) packets per flow ident, from ``nft -j list table``."""
    found: dict[int, list[int]] = {}
    for item in listing.get("nftables", []):
        rule = item.get("rule")
        match = _FLOW_CHAIN.match(rule.get("chain", "")) if rule else None
        if match is None:
            continue
        for expr in rule.get("expr", []):
            if "counter" in expr:
                pair = found.setdefault(int(match.group(1)), [0, 0])
                pair[0 if match.group(2) == "out" else 1] = expr["counter"]["packets"]
    return {ident: (pair[0], pair[1]) for ident, pair in found.items()}


def _nft(script: str) -> bool:
    done = subprocess.run(["nft", "-f", "-"], input=script, text=True, capture_output=True)
    return done.returncode == 0


class FlowTable:
    """The offloaded flows in the kernel, changed in batches by :meth:`commit`."""

    def __init__(
        self,
        lan: str,
        wan: str,
        lan_mac: bytes,
        wan_mac: bytes,
        nft: Callable[[str], bool] = _nft,
    ):
        self.name = table_name(lan, wan)
        self._nft = nft
        self.installed: dict[int, Flow] = {}
        self._adding: dict[int, tuple[Flow, bytes, bytes]] = {}
        self._removing: list[Flow] = []
        self.errors = 0
        self.remove_table()
        if not nft(base_ruleset(self.name, lan, wan, lan_mac, wan_mac)):
            raise OSError(f"nft refused the flow table {self.name}")

    def __len__(self) -> int:
        return len(self.installed) + len(self._adding)

    @property
    def pending(self) -> bool:
        return bool(self._adding or self._removing)

    def add(self, flow: Flow, host_mac: bytes, hop_mac: bytes) -> None:
        self._adding[flow.ident] = (flow, host_mac, hop_mac)

    def remove(self, ident: int) -> None:
        if self._adding.pop(ident, None) is None and ident in self.installed:
            self._removing.append(self.installed.pop(ident))

    def commit(self) -> None:
        """Apply what changed since the last commit in one transaction; if the kernel refuses
        it, each change alone (a refused flow stays with the engine's own path)."""
        if not self._adding and not self._removing:
            return
        batches = [remove_commands(self.name, flow) for flow in self._removing]
        adds = list(self._adding.values())
        batches += [add_commands(self.name, *item) for item in adds]
        self._removing, self._adding = [], {}
        if self._nft("\n".join(line for batch in batches for line in batch) + "\n"):
            self.installed.update((flow.ident, flow) for flow, _, _ in adds)
            return
        for batch, item in zip(batches, [None] * (len(batches) - len(adds)) + adds, strict=True):
            if self._nft("\n".join(batch) + "\n"):
                if item is not None:
                    self.installed[item[0].ident] = item[0]
            else:
                self.errors += 1

    def counts(self) -> dict[int, tuple[int, int]]:
        done = subprocess.run(
            ["nft", "-j", "list", "table", "netdev", self.name], capture_output=True, text=True
        )
        if done.returncode != 0:
            self.errors += 1
            return {}
        return counts_from_listing(json.loads(done.stdout))

    def remove_table(self) -> None:
        subprocess.run(
            ["nft", "delete", "table", "netdev", self.name],
            stderr=subprocess.DEVNULL,
            check=False,
        )

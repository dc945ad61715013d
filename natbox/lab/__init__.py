"""`natbox lab`: clients, the router and an "internet" in network namespaces.

Nothing is created in the root namespace: the two bridges (LAN and WAN) live in a switch
namespace, so the QEMU appliance (next issue) can attach tap interfaces there too.
"""

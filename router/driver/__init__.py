"""The I/O driver: runs the sans-IO engine on two Linux interfaces through AF_PACKET.

Modules, one job each: ``afpacket`` (the raw sockets), ``offload`` (virtio-net headers:
partial checksums and GSO/GRO super-frames), ``linkinfo`` (addresses, MTU, gateway as the
kernel sees them), ``neighbours`` (ARP for next hops), ``shield`` (nftables rules that keep
the kernel away from NAT traffic), ``datapath`` (frames <-> engine), ``control`` (the local
control socket) and ``daemon`` (the event loop).
"""

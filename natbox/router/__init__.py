"""`natbox router`: the datapath plus LAN services (dnsmasq) and the WAN address."""

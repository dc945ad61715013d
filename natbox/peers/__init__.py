"""Real VPN peers for tests behind the router: each module starts a real program (strongSwan,
OpenVPN, wireguard-go, pptpd and pptp) on the hosts of natbox.hil (a LAN client, the internet
host), each with its own configuration folder and log, and says whether the connection came up
and carried traffic. The host kernel has no PPP: natbox.peers.pppstub speaks PPP's framing in
pppd's place. What a peer starts is stopped when the test ends (natbox.hil.Host.start)."""

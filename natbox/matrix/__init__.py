"""The passthrough matrix: every scenario (a real VPN or media exchange, or plain TCP, UDP and
ICMP) x passthrough on and off x every NAT profile x one or two clients, each cell a pytest test
through natbox.hil with an expected outcome derived from the documented rules
(natbox.matrix.expect), the outcome observed, its evidence and its duration. `natbox matrix`
runs the grid and writes matrix.json and one self-contained matrix.html."""

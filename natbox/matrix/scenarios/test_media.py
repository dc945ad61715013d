"""The media rows, with real programs: gst-rtsp-server and ffmpeg pulling RTP over UDP (RTSP,
on 8554: gst-rtsp-server's default, mediamtx's and many cameras'; the ALG is given that port,
as the README says to)."""

from __future__ import annotations

from natbox.matrix.grid import scenario
from natbox.matrix.together import at_once
from natbox.peers import rtsp


@scenario("rtsp")
def test_rtsp(cell, router, lan_clients, internet, clients):
    router.api.put(
        "/passthrough", {"helper_ports": {"554": "rtsp", str(rtsp.DEFAULT_PORT): "rtsp"}}
    )
    rtsp.server(internet, rtsp.DEFAULT_PORT)
    url = f"rtsp://{internet.address}:{rtsp.DEFAULT_PORT}/test"

    def pull(host):
        got = rtsp.pull(host, url, timeout=8.0)  # the same whatever the cell expects
        return got["decoded_s"] >= 1.0, got

    results = at_once(pull, lan_clients[:clients])
    cell.conclude(results)

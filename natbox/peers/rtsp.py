"""RTSP with real programs: gst-rtsp-server on the internet host (on 8554, its own default and
that of mediamtx and many IP cameras, or on 554), and ffmpeg on LAN clients pulling the stream
with RTP over UDP (the media the RTSP ALG must let in)."""

from __future__ import annotations

import re
from pathlib import Path

from natbox.hil.hosts import Background, Host
from natbox.peers.started import wait_until_ready

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # GStreamer's introspection is the system's, not a venv's
DEFAULT_PORT = 8554


def server(host: Host, port: int = DEFAULT_PORT, address: str | None = None) -> Background:
    address = address or host.address
    process = host.start([SYSTEM_PYTHON, str(SERVER_SCRIPT), address, str(port)],
                         name="gst-rtsp-server")  # fmt: skip
    wait_until_ready(process, lambda: "serving rtsp://" in process.output(), "gst-rtsp-server")
    return process


def pull(client: Host, url: str, seconds: float = 2.0, timeout: float = 8.0) -> dict:
    """ffmpeg reads ``seconds`` of the stream over RTP/UDP; how much audio it decoded."""
    result = client.run(["timeout", str(timeout), "ffmpeg", "-nostdin", "-hide_banner",
                         "-rtsp_transport", "udp", "-i", url, "-t", str(seconds), "-f", "null",
                         "-"], check=False, timeout=timeout + 10)  # fmt: skip
    times = re.findall(r"time=([0-9]+):([0-9]+):([0-9.]+)", result.stderr)
    decoded = max((int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in times), default=0.0)
    return {"decoded_s": decoded, "exit": result.returncode, "tail": result.stderr[-200:]}

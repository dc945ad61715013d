"""SIP with real programs: kamailio as registrar and proxy on the internet host, baresip user
agents on both sides (auto-answer, a 440 Hz sine as the microphone, PCMU), and each call's RTP
measured in both directions from baresip's own receive figures.

kamailio is NAT-unaware on purpose (no nathelper, no rtpproxy): what crosses the router is
what the router does to SIP, so a call without the ALG shows what users see behind a plain
NAT: one-way audio out, no calls in."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from natbox.hil.hosts import Background, Host
from natbox.peers.started import sockets, wait_until_ready

PORT = 5060
RTP_PORTS = "20000-20099"
PCMU_BPS = 64000  # G.711's payload rate: what a one-way stream carries each second
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
listen=udp:{address}:{port}
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
modparam("usrloc", "db_mode", 0)
request_route {{
    xlog("L_INFO", "$rm $ru from $si:$sp\\n");
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("REGISTER")) {{ save("location"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here"); exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    record_route();
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"""

# ausine works only at 48 kHz stereo (otherwise the answer fails and no 200 OK goes out).
BARESIP_CONFIG = """poll_method epoll
sip_listen {address}:{sip_port}
rtp_ports {rtp_ports}
audio_source ausine,440
audio_player aufile,{directory}/heard.wav
ausrc_srate 48000
ausrc_channels 2
auplay_srate 48000
auplay_channels 2
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module aufile.so
module_app account.so
module_app menu.so
"""

# baresip's call status line: "audio=<sent>/<received> (bit/s)", refreshed while a call runs.
RATE = re.compile(r"audio=(\d+)/(\d+) \(bit/s\)")


def registrar(host: Host, directory: Path, address: str) -> Background:
    """kamailio on ``address``:5060, in the foreground, its runtime files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    cfg = directory / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(address=address, port=PORT, modules=MODULES))
    process = host.start(["kamailio", "-f", str(cfg), "-DD", "-E", "-Y", str(directory),
                          "-w", str(directory)], name="kamailio")  # fmt: skip
    wait_until_ready(process, lambda: sockets(host, "udp", PORT) > 0, "kamailio")
    return process


@dataclass
class Agent:
    """One baresip user agent with its own config folder, registered as ``user`` at the
    registrar; it answers every call by itself."""

    host: Host
    user: str
    directory: Path
    registrar: str
    address: str
    sip_port: int = PORT
    process: Background | None = None

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@{self.registrar}"

    def _write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "config").write_text(BARESIP_CONFIG.format(
            address=self.address, sip_port=self.sip_port, rtp_ports=RTP_PORTS,
            directory=self.directory))  # fmt: skip
        (self.directory / "accounts").write_text(f"<{self.uri}>;regint=600;answermode=auto\n")
        (self.directory / "contacts").write_text("")

    def start(self, dial: str | None = None, seconds: float = 30.0) -> Agent:
        """Start, register; ``dial``: call that URI at once. It quits after ``seconds``."""
        self._write_config()
        command = ["baresip", "-f", str(self.directory), "-t", str(int(seconds))]
        if dial:
            command += ["-e", f"/dial {dial}"]
        self.process = self.host.start(command, name=f"baresip-{self.user}")
        return self

    def log(self) -> str:
        return self.process.output() if self.process else ""

    def registered(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process and self.process.running:
            if re.search(r"200 OK .*\[\d+ binding", self.log()):
                return True
            time.sleep(0.1)
        return False

    def wait_for_end(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.process and self.process.running and time.monotonic() < deadline:
            time.sleep(0.2)

    def call(self) -> dict:
        """What this agent saw of its call: established, and the best sent and received
        rates (bit/s) baresip reported."""
        log = self.log()
        rates = [(int(sent), int(received)) for sent, received in RATE.findall(log)]
        return {
            "established": "Call established" in log,
            "sent_bps": max((s for s, _ in rates), default=0),
            "received_bps": max((r for _, r in rates), default=0),
        }


def heard(call: dict) -> bool:
    """At least half of a PCMU stream came in: RTP arrived in this direction."""
    return call["established"] and call["received_bps"] >= PCMU_BPS // 2

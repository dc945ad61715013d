"""A gst-rtsp-server serving one live test stream (a sine tone, G.711 mu-law over RTP, as IP
cameras and phones send their audio) at rtsp://ADDRESS:PORT/test.
It runs under the system's Python, which has GStreamer's introspection (python3-gi):

    /usr/bin/python3 rtsp_server.py ADDRESS PORT
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample "
    "! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay0 pt=0 )"
)


def main() -> None:
    address, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    # A media per client: two clients playing one shared media at once can trip
    # gst-rtsp-server 1.22's assertion in gst_rtsp_media_get_rates and kill the server.
    factory.set_shared(False)
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {address}:{port}")
    print(f"serving rtsp://{address}:{port}/test", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()

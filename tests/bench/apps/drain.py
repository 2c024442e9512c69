#!/usr/bin/env python3
"""Workload 5 (Python): an HTTP/1.1 keep-alive server on $PORT that drains
properly on SIGINT/SIGTERM, like drain.js: it stops accepting, answers the
next request on each open connection with "Connection: close", and exits
when the last one is gone (or after 1.4 s)."""
import http.server
import os
import signal
import threading
import time

draining = threading.Event()
lock = threading.Lock()
active = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self):
        global active
        with lock:
            active += 1
        super().setup()

    def finish(self):
        global active
        try:
            super().finish()
        finally:
            with lock:
                active -= 1

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        if draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client gone mid-request (wrk stopping) is no news


server = Server(("127.0.0.1", int(os.environ["PORT"])), Handler)


def drain(*_):
    if not draining.is_set():
        draining.set()
        threading.Thread(target=server.shutdown).start()


signal.signal(signal.SIGINT, drain)
signal.signal(signal.SIGTERM, drain)
server.serve_forever(poll_interval=0.05)
server.socket.close()
end = time.monotonic() + 1.4
while active and time.monotonic() < end:
    time.sleep(0.01)

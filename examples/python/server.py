#!/usr/bin/env python3
"""A small HTTP server for clusterctl's cluster mode, http.server style.

It binds its port itself (PORT, default 8000) as it would alone: with
clusterctl every instance gets the daemon's one shared socket.  On SIGINT
or SIGTERM it drains: it stops accepting, finishes the requests in flight,
then exits.  Each answer is "pid N", so a client sees which instance
answered.
"""
import http.server
import os
import signal
import socketserver
import threading
import time

PORT = int(os.environ.get("PORT", "8000"))
DELAY = float(os.environ.get("DELAY_MS", "0")) / 1000.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if DELAY:
            time.sleep(DELAY)
        body = ("pid %d\n" % os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = False  # server_close() waits for requests in flight
    block_on_close = True


def main():
    server = Server(("", PORT), Handler)
    # Instances share the socket: another may take the connection that
    # woke this one, so accept() must not block (a draining instance
    # would otherwise wait there for the next connection).
    server.socket.setblocking(False)
    print("pid %d listening on %d" % (os.getpid(), PORT), flush=True)

    def drain(sig, frame):
        print("pid %d got signal %d: draining" % (os.getpid(), sig),
              flush=True)
        # shutdown() waits for serve_forever(), so not from its thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGINT, drain)
    signal.signal(signal.SIGTERM, drain)
    server.serve_forever()
    server.server_close()  # stop accepting; join the request threads


if __name__ == "__main__":
    main()

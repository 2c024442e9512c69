#!/usr/bin/env python3
"""Write the seed corpus of each fuzz target (tests/fuzz/corpus/NAME/),
from the requests of docs/protocol.md and the tests.  Run again after a
protocol change: `python3 tests/fuzz/seeds.py`."""
import json, os, socket, struct

here = os.path.dirname(os.path.abspath(__file__))

def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

requests = [
    {"cmd": "ping"},
    {"cmd": "list"},
    {"cmd": "start", "args": {"script": "/bin/sleep", "args": ["1000"],
     "name": "s", "instances": 2, "wait": False, "kill_timeout": 100}},
    {"cmd": "start", "args": {"script": "/bin/sh", "name": "j",
     "log_type": "json", "merge_logs": True, "log_max_size": "10M",
     "log_retain": 3, "time": True, "env": {"A": "1"},
     "stop_exit_codes": [0, 2], "restart_delay": 100, "mode": "fork"}},
    {"cmd": "start", "args": {"targets": ["web"]}},
    {"cmd": "stop", "args": {"targets": ["web"], "wait": False}},
    {"cmd": "stop", "args": {"targets": ["web:1", "0", "all"]}},
    {"cmd": "restart", "args": {"targets": ["api"]}},
    {"cmd": "reset", "args": {"targets": ["all"]}},
    {"cmd": "delete", "args": {"targets": ["api"]}},
    {"cmd": "describe", "args": {"targets": ["web", "api:0"]}},
    {"cmd": "wait", "args": {"targets": ["web"]}},
    {"cmd": "logs", "args": {"targets": ["web"], "lines": 10,
     "stream": "out", "follow": True}},
    {"cmd": "logs", "args": {"daemon": True, "lines": 5}},
    {"cmd": "flush", "args": {"targets": ["api"]}},
    {"cmd": "reload-logs"},
    {"cmd": "reload", "args": {"targets": ["web"], "parallel": 2,
     "force": True}},
    {"cmd": "scale", "args": {"target": "web", "count": 1,
     "relative": True}},
    {"cmd": "share", "args": {"family": "inet", "addr": "127.0.0.1",
     "port": 8080}},
    {"cmd": "stop", "args": {"targets": ["\u00e9" * 300]}},
]

for i, r in enumerate(requests):
    full = {"v": 1, "id": i + 1, **r}
    body = json.dumps(full)
    put("handlers", "%02d-%s" % (i, r["cmd"]), body)
    put("request", "%02d-%s" % (i, r["cmd"]), body)
    put("frame", "%02d-%s" % (i, r["cmd"]),
        struct.pack(">I", len(body)) + body.encode())
put("request", "version", json.dumps({"v": 99, "id": 5, "cmd": "ping"}))
put("request", "noid", json.dumps({"v": 1, "cmd": "ping"}))
put("frame", "two", b"".join(struct.pack(">I", len(b)) + b for b in
    (b'{"v":1,"id":1,"cmd":"ping"}', b'{"v":1,"id":2,"cmd":"list"}')))
put("frame", "oversized", struct.pack(">I", 0x7FFFFFFF) + b"{}")
put("frame", "notobject", struct.pack(">I", 5) + b"[1,2]")

# logcut: first byte the format (0 raw, 1 time, 2 json), second the read
# size, then what the app writes.
put("logcut", "lines", b"\x00\x07line 1\nline 2\npartial")
put("logcut", "bytes", b"\x00\x03nul\x00in\nbad \xff\xfe utf8\n\x1b[31mred\x1b[0m\r\n")
put("logcut", "long", b"\x00\xff" + "\u00e9".encode() * 40000 + b"\nend\n")
put("logcut", "json", b"\x02\x10{\"a\":1}\n\xc3\x28\n")
put("logcut", "time", b"\x01\x01x\ny\n")

# preload: first byte the socket (0 v4, 1 v6, 2 unix), second the length.
sin = struct.pack("=H", socket.AF_INET) + struct.pack(">H", 8080) + \
    socket.inet_aton("127.0.0.1") + b"\0" * 8
put("preload", "inet", bytes([0, 16]) + sin)
sin6 = struct.pack("=H", socket.AF_INET6) + struct.pack(">H", 8080) + \
    b"\0" * 4 + socket.inet_pton(socket.AF_INET6, "::1") + b"\0" * 4
put("preload", "inet6", bytes([1, 28]) + sin6)
sun = struct.pack("=H", socket.AF_UNIX) + b"/tmp/app.sock\0"
put("preload", "unix", bytes([2, len(sun)]) + sun)
sun = struct.pack("=H", socket.AF_UNIX) + b'rel"\\\x01\xff.sock\0'
put("preload", "unix-rel", bytes([2, len(sun)]) + sun)

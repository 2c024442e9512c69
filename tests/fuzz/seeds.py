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

# procfile: first byte the file's name and options (0 .json, 1 .yaml,
# 2 Procfile, 3 stdin; +4 --env production, +8 --only web, +16 --env A=1),
# then the file; a Procfile's .env follows its first NUL.  Seeds: the
# process files of tests/45-procfile.bats and tests/fixtures/procfile/.
import re
pf_kind = {".json": 0, ".yaml": 1, ".yml": 1, "Procfile": 2, "stdin": 3}

def pf_put(name, path, text, opts=0):
    base = os.path.basename(path)
    kind = pf_kind.get(base, pf_kind.get(os.path.splitext(base)[1]))
    if kind is None:
        return
    if isinstance(text, str):
        text = text.encode()
    put("procfile", name, bytes([kind | opts]) + text)

root = os.path.join(here, "..", "..")
bats = open(os.path.join(root, "tests", "45-procfile.bats")).read()
for i, m in enumerate(re.finditer(
        r"""cat >"?([^"\s]+)"? <<'?(\w+)'?\n(.*?)\n\2\n""", bats, re.S)):
    path = m.group(1).replace("${1:-eco.json}", "eco.json")
    pf_put("bats-heredoc-%02d" % i, path, m.group(3) + "\n")
for i, m in enumerate(re.finditer(r"printf '([^']*)' >(\S+)", bats)):
    text = m.group(1).replace("\\n", "\n").replace("%%", "%")
    pf_put("bats-printf-%02d" % i, m.group(2), text)
fix = os.path.join(root, "tests", "fixtures", "procfile", "pm2-process.json")
pf_put("pm2-process", fix, open(fix).read(), 4)
pf_put("procfile-env", "Procfile",
       b"# foreman\nweb: sleep 1000\nworker:   sleep $N\n\0"
       b"export GREETING=\"hello\"\nN='2000'\n# c\nX=a b\n")
pf_put("stdin-procfile", "stdin", "web: sleep 1000\n")
put("procfile", "stdin-json", b"\x13" + b'{"script": "sleep", "args": 1}')
pf_put("every-field", "eco.yaml", """apps:
  - name: web
    script: ./srv.py
    args: [a, 'b c']
    interpreter: python3
    interpreter_args: -u
    cwd: sub
    instances: max
    exec_mode: cluster
    namespace: front
    env: {A: 1, B: "x", C: true}
    env_production: {A: 2}
    port: 8080
    filter_env: [AWS_, npm_]
    out_file: out.log
    error_file: /dev/null
    merge_logs: true
    log_date_format: 'YYYY-MM-DD HH:mm Z'
    log_type: json
    log_max_size: 10M
    log_retain: 3
    autorestart: false
    max_restarts: 10
    min_uptime: 1s
    restart_delay: 100
    exp_backoff_restart_delay: 100
    kill_timeout: 1600
    kill_signal: SIGINT
    stop_exit_codes: [0, 3]
    wait_ready: true
    listen_timeout: 3000
    listen: [8080, "127.0.0.1:9000"]
    sticky: true
    balance: reuseport
    watch: [src, lib]
    ignore_watch: ['*.tmp', node_modules]
    watch_delay: 500
    max_memory_restart: 300M
    cron_restart: '0 3 * * *'
    stdin_messages: true
    shutdown_with_message: true
    uid: nobody
    gid: 65534
    instance_var: INSTANCE_ID
    increment_var: PORT
    vizion: false
    name_prefix: x
""", 4 | 16)
# What the target found, kept as seeds (tests/45-procfile.bats has each).
pf_put("found-export-eol", "Procfile", b"web: sleep 1000\n\0export \n\nA=1\n")
pf_put("found-not-utf8", "Procfile", b"web: sleep \xe9t\xe9\n")
pf_put("found-bool-name", "eco.json", '{"apps": [{"name": true, "script": "sleep", "kill_signal": false, "port": true, "watch": true, "ignore_watch": true}]}')
pf_put("found-real-too-large", "eco.yaml", "apps:\n  - name: web\n    script: sleep\n    instances: 1e40\n    stop_exit_codes: [0, 3111111111111111111111111111]\n")

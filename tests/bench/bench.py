#!/usr/bin/env python3
"""The clusterctl benchmark: runs each workload for clusterctl, pm2 and
(where it applies) Node's own cluster module, in alternation, several
times, and prints a markdown table of medians, min-max, the clusterctl/pm2
ratio and the goal from the issues.  Run through tests/bench/run (make
bench), which installs what it needs and cleans up on any exit.

Environment: BENCH=full|quick|smoke, BENCH_TMP (a fresh directory for the
homes), CLUSTERCTL_BIN, PM2_BIN (empty: no pm2), BENCH_RESULTS (where
latest.json and latest.md go), BENCH_ONLY (comma-separated workload numbers).
Standard library only."""

import datetime
import errno
import glob
import gzip
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
MODE = os.environ.get("BENCH", "full") or "full"
TMP = os.environ.get("BENCH_TMP", "")
CC = os.environ.get("CLUSTERCTL_BIN", "")
PM2 = os.environ.get("PM2_BIN", "")
NODE = shutil.which("node")
WRK = shutil.which("wrk")
HYPERFINE = shutil.which("hyperfine")
TAG_VAR = "CLUSTERCTL_BENCH_TAG"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Sizes and repetitions per mode.  quick is about a minute, smoke a few
# seconds (make check: workload 1, clusterctl only, no thresholds).
CONFIGS = {
    "full": dict(reps=3, rt_runs=30, rt_runs_pm2=10, apps=100, start_n=100,
                 rss_sizes=[100, 1000], rss_reps=2, settle_s=2, crashes=10,
                 wrk_s=10, wrk_reps=2, log_lines=1000000, log_reps=3,
                 idle_s=60, workloads=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                       12, 13, 14, 15,
                                       16, 17, 18, 19],
                 monit_s=60, scrape_sizes=[100, 1000], scrape_runs=20,
                 mem_reps=3, tools=["clusterctl", "pm2"]),
    "quick": dict(reps=2, rt_runs=10, rt_runs_pm2=4, apps=20, start_n=20,
                  rss_sizes=[100], rss_reps=1, settle_s=1, crashes=4,
                  wrk_s=3, wrk_reps=1, log_lines=100000, log_reps=1,
                  idle_s=5, workloads=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                       12, 13, 14, 15,
                                       16, 17, 18, 19],
                  monit_s=5, scrape_sizes=[100], scrape_runs=5, mem_reps=1,
                  tools=["clusterctl", "pm2"]),
    "smoke": dict(reps=1, rt_runs=3, rt_runs_pm2=3, apps=3, start_n=3,
                  rss_sizes=[], rss_reps=1, settle_s=1, crashes=2, wrk_s=1,
                  wrk_reps=1, log_lines=1000, log_reps=1, idle_s=1,
                  workloads=[1], tools=["clusterctl"]),
}


def log(msg):
    """Progress to stderr, so stdout is only the table."""
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def read(path, mode="r"):
    """A whole file, or None when it is gone."""
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name, or None."""
    s = read("/proc/%d/stat" % pid, "rb")
    if s is None:
        return None
    return s.rsplit(b")", 1)[1].split()


def tagged_pids():
    """Every live process whose environment carries this run's tag."""
    tag = ("%s=%s" % (TAG_VAR, TMP)).encode()
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        env = read("/proc/%s/environ" % d, "rb")
        if env is None or tag not in env.split(b"\0"):
            continue
        st = proc_stat(int(d))
        if st is not None and st[0] != b"Z":
            out.append(int(d))
    return out


def children(ppid, comm=None):
    """Live children of PPID (with that command name, if given)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        s = read("/proc/%s/stat" % d, "rb")
        if s is None:
            continue
        head, _, tail = s.rpartition(b")")
        f = tail.split()
        if int(f[1]) != ppid or f[0] == b"Z":
            continue
        if comm is not None and head.split(b"(", 1)[1] != comm.encode():
            continue
        out.append(int(d))
    return out


def rss_kb(pid):
    """Resident set size of PID in KiB (0 when gone)."""
    s = read("/proc/%d/status" % pid) or ""
    m = re.search(r"^VmRSS:\s+(\d+)", s, re.M)
    return int(m.group(1)) if m else 0


def cpu_ticks(pid):
    """utime + stime of PID (all its threads), in clock ticks."""
    f = proc_stat(pid)
    return int(f[11]) + int(f[12]) if f else 0


def ctx_switches(pid):
    """Context switches over all threads of PID: its wakeups, roughly."""
    n = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for t in tasks:
        s = read("/proc/%d/task/%s/status" % (pid, t)) or ""
        for k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            m = re.search(r"^%s:\s+(\d+)" % k, s, re.M)
            n += int(m.group(1)) if m else 0
    return n


def wait_for(cond, limit, step=0.005):
    """Poll COND until true; False after LIMIT seconds."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(step)
    return True


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def port_answers(port):
    """An HTTP GET to 127.0.0.1:PORT gets a 200."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        ok = s.recv(64).startswith(b"HTTP/1.1 200")
        s.close()
        return ok
    except OSError:
        return False


# -------------------------------------------------------------------- tools

class Tool:
    """One process manager with its own isolated home under TMP."""

    def __init__(self, name, home):
        self.name = name
        self.home = home
        os.makedirs(home, mode=0o700, exist_ok=True)
        self.env = dict(os.environ)
        self.env[TAG_VAR] = TMP
        self.env["NO_COLOR"] = "1"
        if name == "clusterctl":
            self.env["CLUSTERCTL_HOME"] = home
            self.argv0 = [CC]
        else:
            self.env["PM2_HOME"] = home
            self.argv0 = [PM2]

    def run(self, *args, check=True, timeout=600):
        """Run the tool's CLI; raise with its stderr when it fails."""
        p = subprocess.run(self.argv0 + [str(a) for a in args],
                           env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("%s %s: exit %d: %s" % (
                self.name, " ".join(map(str, args)), p.returncode,
                (p.stderr or p.stdout).decode(errors="replace")
                .strip()[-300:]))
        return p

    def up(self):
        """Start the daemon (ping) and return its pid."""
        self.run("ping")
        return self.daemon_pid()

    def daemon_pid(self):
        f = "daemon.pid" if self.name == "clusterctl" else "pm2.pid"
        s = read(os.path.join(self.home, f))
        return int(s.strip()) if s and s.strip().isdigit() else 0

    def list(self):
        """The tool's list as [(name, status, pid)]."""
        if self.name == "clusterctl":
            d = json.loads(self.run("list", "--json").stdout)
            return [(r["name"], r["status"], r["pid"]) for r in d]
        d = json.loads(self.run("jlist").stdout)
        return [(r["name"], r["pm2_env"]["status"], r["pid"]) for r in d]

    def start_sleep(self, name, n, wait=True, ready0=False):
        """N instances of /bin/sleep 1000 as one app, in one command."""
        if self.name == "clusterctl":
            a = ["start", "/bin/sleep", "--name", name, "-i", n]
            if not wait:
                a.append("--no-wait")
            if ready0:
                a += ["--listen-timeout", "0"]
            self.run(*a, "--", "1000")
        else:
            self.run("start", "/bin/sleep", "--name", name, "-i", n,
                     "--", "1000")

    def start_many(self, names):
        """One app of /bin/sleep per name (pm2: one ecosystem file)."""
        if self.name == "clusterctl":
            extra = ["--listen-timeout", "0"] if FEATURES["listen_timeout"] \
                else []
            for nm in names:
                self.run("start", "/bin/sleep", "--name", nm, "--no-wait",
                         *extra, "--", "1000")
        else:
            eco = os.path.join(self.home, "apps.json")
            with open(eco, "w") as f:
                json.dump({"apps": [dict(name=nm, script="/bin/sleep",
                                         args="1000", interpreter="none")
                                    for nm in names]}, f)
            self.run("start", eco, timeout=600)

    def kill(self):
        """Stop every app and the daemon; wait until they are gone."""
        pid = self.daemon_pid()
        if pid and os.path.exists("/proc/%d" % pid):
            try:
                self.run("kill", check=False, timeout=60)
            except subprocess.TimeoutExpired:
                log("%s kill timed out" % self.name)
            wait_for(lambda: proc_stat(pid) is None, 10, 0.02)


HOMES = []
POPENS = []  # Node clusters and plain servers started here


def fresh(tool_name, label):
    """A Tool with a new home for one workload repetition."""
    h = os.path.join(TMP, "%s-%s-%d" % (tool_name, label, len(HOMES)))
    t = Tool(tool_name, h)
    HOMES.append(t)
    return t


def cleanup():
    """Every daemon of the run killed through its CLI, then anything
    tagged that is still alive SIGKILLed; returns the leftovers' pids."""
    for p in POPENS:
        if p.poll() is None:
            stop_popen(p)
    for d in sorted(os.listdir(TMP)) if TMP and os.path.isdir(TMP) else []:
        h = os.path.join(TMP, d)
        if d.startswith("clusterctl-") and CC:
            t = Tool("clusterctl", h)
        elif d.startswith("pm2-") and PM2:
            t = Tool("pm2", h)
        else:
            continue
        t.kill()
    wait_for(lambda: not tagged_pids(), 5, 0.05)
    left = tagged_pids()
    for pid in left:
        cmd = read("/proc/%d/cmdline" % pid, "rb") or b""
        cmd = cmd.replace(b"\0", b" ")
        log("left behind: %d %s" % (pid, cmd.decode(errors="replace")))
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


# ---------------------------------------------------------------- features

FEATURES = {}


def detect_features():
    """Which clusterctl commands and flags this build has."""
    env = dict(os.environ, CLUSTERCTL_HOME=os.path.join(TMP, "probe"))

    def has(cmd):
        # The usage line too: lookup takes unique prefixes, so "reload"
        # alone could find a "reload-logs".
        p = subprocess.run([CC, "help", cmd], env=env, capture_output=True)
        return p.returncode == 0 and re.match(
            r"usage: \S+ %s( |$)" % cmd, p.stdout.decode(), re.M) is not None

    # Whitespace collapsed: help wraps option texts to the terminal.
    start_help = " ".join(subprocess.run(
        [CC, "help", "start"], env=env, capture_output=True,
        stdin=subprocess.DEVNULL).stdout.decode().split())
    FEATURES["reload"] = has("reload")
    FEATURES["scale"] = has("scale")
    FEATURES["logs"] = has("logs")
    FEATURES["listen_timeout"] = "--listen-timeout" in start_help
    FEATURES["share"] = "--no-share" in start_help
    FEATURES["balance"] = "--balance" in start_help
    FEATURES["sticky"] = "--sticky" in start_help
    FEATURES["out_file"] = "--out-file" in start_help
    FEATURES["restart_delay"] = "--restart-delay" in start_help
    # Built-in rotation (default 10 MB, 5 kept) would drop most of a 64 MB
    # flood by design: workload 8 turns it off to count every line.
    FEATURES["log_max_size"] = "--log-max-size" in start_help
    FEATURES["log_max_size_0"] = "0: never" in start_help
    FEATURES["monit"] = has("monit")
    FEATURES["metrics"] = has("metrics")
    FEATURES["max_memory_restart"] = "--max-memory-restart" in start_help
    FEATURES["upgrade"] = has("upgrade")


def na_feature(what):
    return "n/a: no `%s` in this clusterctl build" % what


# -------------------------------------------------------------- statistics

RESULTS = []


def summary(values):
    """median, min, max, n of a list of numbers."""
    return dict(median=statistics.median(values), min=min(values),
                max=max(values), n=len(values), values=values)


def record(workload, figure, unit, goal, per_tool, better="lower",
           goal_ratio=None):
    """One row: per_tool maps tool -> list of numbers or an 'n/a' string."""
    row = dict(workload=workload, figure=figure, unit=unit, goal=goal,
               better=better, goal_ratio=goal_ratio)
    for k, v in per_tool.items():
        if isinstance(v, str):
            row[k] = dict(na=v)
        elif v:
            row[k] = summary(v)
    c, p = row.get("clusterctl", {}), row.get("pm2", {})
    if "median" in c and "median" in p and p["median"]:
        row["ratio"] = c["median"] / p["median"]
    RESULTS.append(row)
    return row


def fmt_num(x, unit):
    if unit in ("requests", "lines", "failures", "instances"):
        return "{:,}".format(round(x))
    if unit == "%":
        return "%.2f" % x
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.2f" % x


def fmt_cell(cell, unit, with_range=True):
    if not cell:
        return "—"
    if "na" in cell:
        return cell["na"]
    s = fmt_num(cell["median"], unit)
    if with_range and cell["n"] > 1:
        s += " (%s–%s)" % (fmt_num(cell["min"], unit),
                           fmt_num(cell["max"], unit))
    return s


def table():
    """The results as a markdown table."""
    lines = ["| # | figure | unit | clusterctl median (min–max) | pm2 "
             "| node / no manager | clusterctl/pm2 | goal |",
             "|---|---|---|---|---|---|---|---|"]
    for r in RESULTS:
        ratio = "%.3g" % r["ratio"] if "ratio" in r else "—"
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["workload"], r["figure"], r["unit"],
            fmt_cell(r.get("clusterctl"), r["unit"]),
            fmt_cell(r.get("pm2"), r["unit"]),
            fmt_cell(r.get("node"), r["unit"]), ratio, r["goal"]))
    return "\n".join(lines)


def machine():
    cpu = ""
    for l in (read("/proc/cpuinfo") or "").splitlines():
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
    osr = read("/etc/os-release") or ""
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)', osr, re.M)
    pm2v = "n/a"
    if PM2:
        pj = os.path.join(HERE, "node_modules", "pm2", "package.json")
        pm2v = json.loads(read(pj) or '{"version": "?"}')["version"]
    ccv = subprocess.run([CC, "version"], capture_output=True,
                         env=dict(os.environ, CLUSTERCTL_HOME=os.path.join(
                             TMP, "probe"))).stdout.decode().strip()
    rev = subprocess.run(["git", "-C", HERE, "describe", "--always",
                          "--dirty"], capture_output=True).stdout.decode()
    mem = re.search(r"^MemTotal:\s+(\d+)", read("/proc/meminfo") or "", re.M)
    return dict(cpus=os.cpu_count(), cpu_model=cpu, load=os.getloadavg()[0],
                kernel=platform.release(), os=m.group(1) if m else "",
                memory_mb=int(mem.group(1)) // 1024 if mem else 0,
                node=subprocess.run([NODE, "--version"], capture_output=True)
                .stdout.decode().strip() if NODE else "n/a",
                pm2=pm2v, clusterctl=ccv, commit=rev.strip())


# --------------------------------------------------------------- workloads

def tools_in_turn(rep):
    """The tools of this mode, the first one alternating per repetition."""
    t = list(CFG["tools"])
    return t if rep % 2 == 0 else t[::-1]


def pm2_missing():
    return "n/a: pm2 not installed" if not PM2 else None


def time_command(tool, args, runs):
    """Median seconds of RUNS calls of the tool's CLI (hyperfine -N when
    installed, else a plain loop)."""
    argv = tool.argv0 + args
    if HYPERFINE:
        out = os.path.join(TMP, "hyperfine.json")
        subprocess.run([HYPERFINE, "-N", "--style", "none", "--warmup", "2",
                        "--runs", str(runs), "--export-json", out,
                        " ".join(argv)], env=tool.env, check=True,
                       capture_output=True)
        return json.loads(read(out))["results"][0]["median"]
    ts = []
    for _ in range(runs + 2):
        t0 = time.perf_counter()
        subprocess.run(argv, env=tool.env, capture_output=True, check=True)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts[2:])


def w1_round_trip():
    """CLI round trip with the daemon up: ping, and list --json (pm2 jlist)
    with CFG apps apps."""
    res = {"ping": {}, "list": {}}
    if "pm2" in CFG["tools"] and not PM2:
        res["ping"]["pm2"] = res["list"]["pm2"] = pm2_missing()
    tools = {}
    for name in CFG["tools"]:
        if name == "pm2" and not PM2:
            continue
        t = fresh(name, "w1")
        t.up()
        t.start_many(["app%03d" % i for i in range(CFG["apps"])])
        tools[name] = t
        res["ping"][name] = []
        res["list"][name] = []
    for rep in range(CFG["reps"]):
        for name in tools_in_turn(rep):
            if name not in tools:
                continue
            t = tools[name]
            runs = CFG["rt_runs"] if name == "clusterctl" \
                else CFG["rt_runs_pm2"]
            res["ping"][name].append(1000 * time_command(t, ["ping"], runs))
            largs = ["list", "--json"] if name == "clusterctl" else ["jlist"]
            res["list"][name].append(1000 * time_command(t, largs, runs))
    for t in tools.values():
        t.kill()
    record(1, "`ping` round trip", "ms", "< 5 ms (pm2 ≈ 250 ms)",
           res["ping"])
    record(1, "`list --json`, %d apps (pm2: `jlist`)" % CFG["apps"], "ms",
           "< 5 ms", res["list"])


def w2_rss():
    """Daemon RSS idle and with N instances of /bin/sleep (pm2: God)."""
    res = {"idle": {}}
    for n in CFG["rss_sizes"]:
        res[n] = {}
    for rep in range(CFG["rss_reps"]):
        for name in tools_in_turn(rep):
            if name == "pm2" and not PM2:
                for k in res:
                    res[k]["pm2"] = pm2_missing()
                continue
            t = fresh(name, "w2")
            try:
                pid = t.up()
                time.sleep(1)
                res["idle"].setdefault(name, []).append(rss_kb(pid) / 1024)
                have = 0
                for n in CFG["rss_sizes"]:
                    ok = True
                    try:
                        t.start_sleep("nap%d" % n, n - have, wait=False)
                        have = n
                        ok = wait_for(lambda: len(children(
                            pid, "sleep")) >= n, 120, 0.1)
                    except RuntimeError as e:
                        res[n][name] = "failed: %s" % e
                        break
                    if not ok:
                        res[n][name] = "failed: %d of %d running" % (
                            len(children(pid, "sleep")), n)
                        break
                    time.sleep(CFG["settle_s"])
                    res[n].setdefault(name, [])
                    if isinstance(res[n][name], list):
                        res[n][name].append(rss_kb(pid) / 1024)
            finally:
                t.kill()
    record(2, "daemon RSS, idle", "MB", "< 4 MB (pm2 ≈ 58 MB)", res["idle"])
    for n in CFG["rss_sizes"]:
        record(2, "daemon RSS, %d instances of /bin/sleep" % n, "MB",
               "few MB", res[n])


def w3_start_delete():
    """Start N /bin/sleep instances in one command until all are online;
    delete them until all are gone."""
    n = CFG["start_n"]
    variants = [("default", False)]
    if FEATURES["listen_timeout"]:
        variants.append(("ready0", True))
    res = {v: {"start": {}, "delete": {}} for v, _ in variants}
    daemons = {}  # one daemon per tool for every repetition: delete empties it
    try:
        for rep in range(CFG["reps"]):
            for name in tools_in_turn(rep):
                if name == "pm2" and not PM2:
                    continue
                if name not in daemons:
                    t = fresh(name, "w3")
                    daemons[name] = (t, t.up())
                t, pid = daemons[name]
                for v, ready0 in variants:
                    if name == "pm2" and ready0:
                        continue
                    t0 = time.perf_counter()
                    t.start_sleep("nap", n, ready0=ready0)
                    if not wait_for(lambda: len(children(pid, "sleep")) >= n,
                                    60):
                        raise RuntimeError("%s: %d of %d instances ran" % (
                            name, len(children(pid, "sleep")), n))
                    t1 = time.perf_counter()
                    st = t.list()
                    if len(st) != n or \
                            not all(s == "online" for _, s, _ in st):
                        if not wait_for(lambda: all(
                                s == "online" for _, s, _ in t.list()),
                                60, 0.02):
                            raise RuntimeError("%s: not all online" % name)
                        t1 = time.perf_counter()
                    res[v]["start"].setdefault(name, []).append(t1 - t0)
                    t0 = time.perf_counter()
                    t.run("delete", "nap")
                    if not wait_for(lambda: not children(pid, "sleep"), 60):
                        raise RuntimeError("%s: instances outlived delete"
                                           % name)
                    res[v]["delete"].setdefault(name, []).append(
                        time.perf_counter() - t0)
    finally:
        for t, _ in daemons.values():
            t.kill()
    for k in ("start", "delete"):
        for v in res:
            if "pm2" in CFG["tools"] and not PM2:
                res[v][k]["pm2"] = pm2_missing()
    lt = FEATURES["listen_timeout"]
    label = "default readiness (--listen-timeout 3 s for non-listeners)" \
        if lt else "online at exec on this build (no readiness yet)"
    record(3, "start %d × /bin/sleep until all online, %s" % (n, label),
           "s", "well under pm2 (pm2 ≈ 0.67 s)", res["default"]["start"])
    if lt:
        record(3, "start %d × /bin/sleep, `--listen-timeout 0`" % n, "s",
               "well under pm2", dict(res["ready0"]["start"],
                                      pm2=res["default"]["start"].get("pm2")))
    else:
        record(3, "start %d × /bin/sleep, `--listen-timeout 0`" % n, "s",
               "well under pm2", {"clusterctl": na_feature(
                   "--listen-timeout")})
    record(3, "delete %d instances until all gone" % n, "s", "< pm2",
           res["default"]["delete"])


class ProcEvents:
    """Fork/exec/exit events from the kernel's proc connector (root, and
    the initial network namespace); .ok is False where unavailable."""

    def __init__(self):
        self.ok = False
        self.lost = False
        self.forks = {}  # child pid -> monotonic ns of its fork
        try:
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind((0, 1))
            op = struct.pack("I", 1)
            cn = struct.pack("IIIIHH", 1, 1, 0, 0, len(op), 0) + op
            s.send(struct.pack("IHHII", 16 + len(cn), 3, 0, 0, 0) + cn)
            s.setblocking(False)
            self.sock = s
            self.ok = True
        except OSError:
            pass

    def drain(self):
        """Read every pending event; keep fork times."""
        while self.ok:
            try:
                d = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.lost = True
                    continue
                self.ok = False
                return
            if len(d) < 52:
                continue
            what, _, ts = struct.unpack_from("IIQ", d, 36)
            if what == 1:  # PROC_EVENT_FORK: parent pid, tgid, child pid, tgid
                _, _, cpid, ctgid = struct.unpack_from("IIII", d, 52)
                if cpid == ctgid:
                    self.forks[cpid] = ts

    def close(self):
        if self.ok:
            self.sock.close()


def crash_loop(t, pid, pe, rep):
    """One run of apps/crash.sh under tool T (daemon PID): its
    exit->start times and fork->start times, in ms."""
    clog = os.path.join(t.home, "crash-%d.log" % rep)
    open(clog, "w").close()
    t.env["BENCH_CRASH_LOG"] = clog
    t.env["BENCH_CRASHES"] = str(CFG["crashes"])
    pe.drain()
    pe.forks.clear()
    # The connector's clock is CLOCK_MONOTONIC, the app's the wall clock.
    off = time.time_ns() - time.monotonic_ns()
    app = os.path.join(APPS, "crash.sh")
    if t.name == "clusterctl":
        t.run("start", app, "--name", "crash", "--restart-delay", "0",
              "--no-wait")
    else:
        t.run("start", app, "--name", "crash", "--restart-delay", "0",
              "--interpreter", "bash")

    def done():
        pe.drain()
        return sum(1 for l in (read(clog) or "").splitlines()
                   if l.startswith("start")) > CFG["crashes"]
    if not wait_for(done, 60, 0.01):
        raise RuntimeError("%s: the crash loop did not finish: %s"
                           % (t.name, (read(clog) or "")[-200:]))
    pe.drain()
    t.run("delete", "crash")
    if not wait_for(lambda: not children(pid), 30):
        raise RuntimeError("%s: the crash app outlived delete" % t.name)
    ev = [l.split() for l in read(clog).splitlines()]
    tt, sp = [], []
    for a, b in zip(ev, ev[1:]):
        if a[0] == "exit" and b[0] == "start":
            tt.append(1000 * (float(b[2]) - float(a[2])))
            if int(b[1]) in pe.forks:
                f = (pe.forks[int(b[1])] + off) / 1e9
                sp.append(1000 * (float(b[2]) - f))
    return tt, sp


def w4_crash():
    """Crash to replacement running: from the app's own exit timestamp to
    the replacement's start timestamp (total), and from the kernel's fork
    of the replacement to that start (the spawn part)."""
    need = None if FEATURES["restart_delay"] else na_feature("--restart-delay")
    total, spawn = {}, {}
    pe = ProcEvents()
    daemons = {}  # one per tool for every repetition
    try:
        for rep in range(CFG["reps"]):
            for name in tools_in_turn(rep):
                if name == "pm2" and not PM2:
                    continue
                if name == "clusterctl" and need:
                    continue
                if name not in daemons:
                    t = fresh(name, "w4")
                    daemons[name] = (t, t.up())
                t, pid = daemons[name]
                tt, sp = crash_loop(t, pid, pe, rep)
                total.setdefault(name, []).append(statistics.median(tt))
                if sp:
                    spawn.setdefault(name, []).append(statistics.median(sp))
    finally:
        for t, _ in daemons.values():
            t.kill()
    # The floor: the same app started straight from here (no manager).
    base = []
    if pe.ok:
        clog = os.path.join(TMP, "crash-direct.log")
        env = dict(os.environ, BENCH_CRASH_LOG=clog, BENCH_CRASHES="1000")
        env[TAG_VAR] = TMP
        for _ in range(5):
            open(clog, "w").close()
            pe.drain()
            off = time.time_ns() - time.monotonic_ns()
            p = subprocess.run([os.path.join(APPS, "crash.sh")], env=env)
            pe.drain()
            pid, ts = read(clog).split()[1:3]
            if int(pid) in pe.forks:
                base.append(1000 * (float(ts) -
                                    (pe.forks[int(pid)] + off) / 1e9))
    if base:
        spawn["node"] = base
    pe.close()
    if need:
        total["clusterctl"] = spawn["clusterctl"] = need
    if not pe.ok and not spawn:
        spawn = {"clusterctl": "n/a: no proc connector here"}
    if "pm2" in CFG["tools"] and not PM2:
        total["pm2"] = spawn["pm2"] = pm2_missing()
    record(4, "crash → replacement running, total (restart delay 0)", "ms",
           "delay + a few ms", total)
    record(4, "… spawn part: fork of the replacement → its first line "
           "(node column: the app started directly)",
           "ms", "< 5 ms", spawn)


def wrk(port, seconds, during=None, headers=()):
    """Run wrk (64 connections) against 127.0.0.1:PORT for SECONDS while
    DURING(t0) runs; return (requests, failures, requests/s)."""
    hdr = [a for h in headers for a in ("-H", h)]
    p = subprocess.Popen([WRK, "-t2", "-c64", "-d%ds" % seconds,
                          "--timeout", "2s"] + hdr +
                         ["http://127.0.0.1:%d/" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if during:
        during(time.monotonic())
    out = p.communicate(timeout=seconds + 60)[0].decode()
    m = re.search(r"(\d+) requests in", out)
    if not m:
        raise RuntimeError("wrk: " + out[-300:])
    reqs = int(m.group(1))
    fails = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        fails += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        fails += int(m.group(1))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return reqs, fails, float(rps.group(1)) if rps else 0.0


def start_http(name, t, app, port, extra=(), work=0):
    """Start APP as a 2-instance app on PORT under tool T, or under Node's
    cluster module when T is None (then return its Popen)."""
    env_extra = {"PORT": str(port), "BENCH_WORK": str(work)}
    if t is None:
        env = dict(os.environ, **env_extra)
        env[TAG_VAR] = TMP
        p = subprocess.Popen([NODE, os.path.join(APPS, "cluster.js"), app],
                             env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        POPENS.append(p)
        if not wait_for(lambda: port_answers(port), 20, 0.05):
            raise RuntimeError("node cluster: port %d never answered" % port)
        return p
    t.env.update(env_extra)
    t.up()
    if t.name == "pm2" and app.endswith(".py"):
        extra = list(extra) + ["--interpreter", "python3"]
    t.run("start", app, "--name", name, "-i", "2", *extra)
    if not wait_for(lambda: port_answers(port), 20, 0.05):
        raise RuntimeError("%s: port %d never answered" % (t.name, port))
    return None


def stop_popen(p):
    """End a Node cluster started by start_http, its whole group."""
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except OSError:
        pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass

    def group_gone():
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        except OSError:
            pass
        return False
    wait_for(group_gone, 5, 0.02)
    p.wait()


def http_na(name, need_reload=False):
    """Why a load workload cannot run for tool NAME, or None."""
    if not WRK:
        return "n/a: wrk not installed"
    if not NODE:
        return "n/a: node not installed"
    if name == "pm2" and not PM2:
        return pm2_missing()
    if name == "clusterctl":
        if need_reload and not FEATURES["reload"]:
            return na_feature("reload")
        if not FEATURES["share"]:
            return "n/a: no socket sharing in this clusterctl build " \
                   "(-i 2 instances would fight over the port)"
    return None


def w5_reload():
    """Availability during 3 reloads under wrk on a draining app with 2
    instances, in Node and in Python."""
    for lang, app in (("Node", "drain.js"), ("Python", "drain.py")):
        w5_reload_app(lang, os.path.join(APPS, app))


def w5_reload_app(lang, app):
    """Workload 5 for one app."""
    reqs, fails, rel, relfail = {}, {}, {}, {}
    secs = CFG["wrk_s"]
    for rep in range(CFG["wrk_reps"]):
        for name in tools_in_turn(rep):
            why = http_na(name, need_reload=True)
            if why:
                reqs[name] = fails[name] = why
                continue
            t = fresh(name, "w5")
            port = free_port()
            try:
                start_http("web", t, app, port)
                times, bad = [], []

                def reload3(t0):
                    for k in range(3):
                        time.sleep(max(0, t0 + secs * (k + 1) / 4 -
                                       time.monotonic()))
                        r0 = time.monotonic()
                        st = t.run("reload", "web", check=False).returncode
                        times.append(time.monotonic() - r0)
                        bad.append(int(st != 0))
                n, f, _ = wrk(port, secs, reload3)
                reqs.setdefault(name, []).append(n)
                fails.setdefault(name, []).append(f)
                rel.setdefault(name, []).extend(times)
                relfail.setdefault(name, []).append(sum(bad))
            finally:
                t.kill()
    record(5, "%s app (%s), 3 reloads under wrk (%d s, 64 conns): "
           "requests" % (lang, os.path.basename(app), secs), "requests", "—",
           reqs, better="higher")
    record(5, "… failed requests (non-2xx + socket errors)", "failures",
           "0", fails)
    if rel:
        record(5, "… time of one `reload` command (2 instances)", "s", "—",
               rel)
        record(5, "… `reload` commands that failed (of 3 per run)",
               "failures", "0", relfail)


def w6_crashing():
    """Availability with instances crashing every 1-3 s under wrk."""
    reqs, fails, succ = {}, {}, {}
    secs = CFG["wrk_s"]
    app = os.path.join(APPS, "crashy.js")
    for rep in range(CFG["wrk_reps"]):
        for name in tools_in_turn(rep) + ["node"]:
            why = http_na(name) if name != "node" else (
                None if WRK and NODE else "n/a: wrk or node missing")
            if why:
                reqs[name] = fails[name] = succ[name] = why
                continue
            port = free_port()
            t = None if name == "node" else fresh(name, "w6")
            p = None
            try:
                extra = ["--restart-delay", "0"]
                p = start_http("crashy", t, app, port, extra)
                n, f, _ = wrk(port, secs)
                reqs.setdefault(name, []).append(n)
                fails.setdefault(name, []).append(f)
                succ.setdefault(name, []).append(100.0 * (n - f) / max(n, 1))
            finally:
                if p:
                    stop_popen(p)
                if t:
                    t.kill()
    record(6, "instances crash every 1–3 s, wrk %d s: requests" % secs,
           "requests", "—", reqs, better="higher")
    record(6, "… failed requests", "failures", "—", fails)
    record(6, "… requests that succeeded", "%", "≥ 99.9 % (pm2 ≈ 92 %)",
           succ, better="higher")


def w7_throughput():
    """Requests/s of a CPU-bound Node app: one process, Node cluster,
    pm2 -i 2, clusterctl -i 2."""
    rps = {}
    single = []
    secs = CFG["wrk_s"]
    app = os.path.join(APPS, "drain.js")
    work = 20000
    for rep in range(CFG["wrk_reps"]):
        for name in ["single"] + tools_in_turn(rep) + ["node"]:
            if name in ("single", "node"):
                why = None if WRK and NODE else "n/a: wrk or node missing"
            else:
                why = http_na(name)
            if why:
                rps[name] = why
                continue
            port = free_port()
            t = fresh(name, "w7") if name in ("clusterctl", "pm2") else None
            p = None
            try:
                if name == "single":
                    env = dict(os.environ, PORT=str(port),
                               BENCH_WORK=str(work))
                    env[TAG_VAR] = TMP
                    p = subprocess.Popen([NODE, app], env=env,
                                         start_new_session=True,
                                         stdout=subprocess.DEVNULL)
                    POPENS.append(p)
                    if not wait_for(lambda: port_answers(port), 20, 0.05):
                        raise RuntimeError("single node never answered")
                else:
                    p = start_http("cpu", t, app, port, work=work)
                _, f, r = wrk(port, secs)
                (single if name == "single" else
                 rps.setdefault(name, [])).append(r)
            finally:
                if p:
                    stop_popen(p)
                if t:
                    t.kill()
    record(7, "CPU-bound Node app, 2 instances: requests/s", "req/s",
           "≥ pm2 and ≥ node cluster", rps, better="higher")
    record(7, "… the same app as one plain process (no manager)", "req/s",
           "—", {"node": single if single else rps.get("single", "n/a")},
           better="higher")


def instance_pids(t, name):
    """The pids of app NAME's instances under clusterctl T."""
    d = json.loads(t.run("list", "--json").stdout)
    return [r["pid"] for r in d if r["name"] == name and r["pid"]]


def conns_per_pid(port, pids):
    """Established connections to PORT held by each of PIDS (ss -p)."""
    out = subprocess.run(["ss", "-tnpH", "state", "established",
                          "( sport = :%d )" % port], capture_output=True
                         ).stdout.decode()
    n = {p: 0 for p in pids}
    for m in re.finditer(r"pid=(\d+)", out):
        p = int(m.group(1))
        if p in n:
            n[p] += 1
    return n


def flag_na(workload, figure, unit, flag):
    """Record FIGURE as n/a and return True when wrk, node or FLAG is
    missing."""
    if WRK and NODE and FEATURES[flag]:
        return False
    record(workload, figure, unit, "—",
           {"clusterctl": "n/a: wrk, node or --%s missing" % flag})
    return True


def w16_spread():
    """Spread of keep-alive connections and CPU over 4 instances under wrk,
    shared queue against --balance reuseport."""
    if flag_na(16, "spread over 4 instances", "×", "balance"):
        return
    secs = CFG["wrk_s"]
    app = os.path.join(APPS, "drain.js")
    for mode in ("shared", "reuseport"):
        conns, cpu = [], []
        for rep in range(CFG["wrk_reps"] * 2):
            t = fresh("clusterctl", "w16")
            port = free_port()
            try:
                t.env.update({"PORT": str(port), "BENCH_WORK": "2000"})
                t.up()
                t.run("start", app, "--name", "web", "-i", "4",
                      "--balance", mode)
                if not wait_for(lambda: port_answers(port), 20, 0.05):
                    raise RuntimeError("w16: port never answered")
                pids = instance_pids(t, "web")
                c0 = {p: cpu_ticks(p) for p in pids}
                seen = {}

                def sample(t0):
                    time.sleep(max(0, t0 + secs / 2 - time.monotonic()))
                    seen.update(conns_per_pid(port, pids))
                wrk(port, secs, sample)
                d = [cpu_ticks(p) - c0[p] for p in pids]
                if min(seen.values() or [0]) > 0:
                    conns.append(max(seen.values()) / min(seen.values()))
                else:
                    conns.append(float(max(seen.values() or [0])))
                cpu.append(max(d) / max(min(d), 1))
            finally:
                t.kill()
        record(16, "--balance %s: wrk keep-alive connections per instance, "
               "max/min (64 conns, 4 instances; a lone number: the "
               "most-loaded instance's count while one had none)" % mode,
               "×", "reuseport ≈ 1", {"clusterctl": conns})
        record(16, "… CPU time per instance, max/min", "×", "—",
               {"clusterctl": cpu})


def w17_cpu_modes():
    """Requests/s of a CPU-bound Node app, 2 instances: clusterctl shared,
    clusterctl --balance reuseport, Node's cluster module."""
    if flag_na(17, "CPU-bound req/s", "req/s", "balance"):
        return
    secs = CFG["wrk_s"]
    app = os.path.join(APPS, "drain.js")
    rps = {"shared": [], "reuseport": [], "node": []}
    for rep in range(CFG["wrk_reps"] * 2):
        for mode in ("shared", "reuseport", "node"):
            port = free_port()
            t = fresh("clusterctl", "w17") if mode != "node" else None
            p = None
            try:
                p = start_http("cpu", t, app, port,
                               () if t is None else ("--balance", mode),
                               work=20000)
                rps[mode].append(wrk(port, secs)[2])
            finally:
                if p:
                    stop_popen(p)
                if t:
                    t.kill()
    record(17, "CPU-bound Node app, 2 instances, --balance shared: req/s",
           "req/s", "≥ node cluster", {"clusterctl": rps["shared"],
                                       "node": rps["node"]}, better="higher")
    record(17, "… --balance reuseport: req/s", "req/s", "≥ node cluster",
           {"clusterctl": rps["reuseport"], "node": rps["node"]},
           better="higher")


STICKY_SESSION = os.path.join(HERE, "node_modules", "sticky-session")


def w18_sticky():
    """--sticky against Node's cluster module with the sticky-session npm
    package: requests/s (one client address, keep-alive and a new
    connection per request), failures while workers crash every 1-3 s."""
    if flag_na(18, "sticky sessions", "req/s", "sticky"):
        return
    secs = CFG["wrk_s"]
    rps_ka, rps_close, fails, total = {}, {}, {}, {}
    for rep in range(CFG["wrk_reps"]):
        for name in ("clusterctl", "node"):
            if name == "node" and not os.path.isdir(STICKY_SESSION):
                for d in (rps_ka, rps_close, fails, total):
                    d[name] = "n/a: sticky-session not installed"
                continue
            for crashy in ("0", "1"):
                port = free_port()
                t = fresh("clusterctl", "w18") if name == "clusterctl" \
                    else None
                p = None
                env_extra = {"PORT": str(port), "CRASHY": crashy,
                             "WORKERS": "2"}
                try:
                    if t is None:
                        env = dict(os.environ, **env_extra)
                        env[TAG_VAR] = TMP
                        env["NODE_PATH"] = os.path.join(HERE, "node_modules")
                        p = subprocess.Popen(
                            [NODE, os.path.join(APPS, "sticky_session.js")],
                            env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
                        POPENS.append(p)
                    else:
                        t.env.update(env_extra)
                        t.up()
                        t.run("start", os.path.join(APPS, "sticky_app.js"),
                              "--name", "st", "-i", "2", "--sticky",
                              "--restart-delay", "0")
                    if not wait_for(lambda: port_answers(port), 20, 0.05):
                        raise RuntimeError("w18 %s: port never answered" %
                                           name)
                    if crashy == "0":
                        rps_ka.setdefault(name, []).append(
                            wrk(port, secs)[2])
                        rps_close.setdefault(name, []).append(
                            wrk(port, secs, headers=("Connection: close",)
                                )[2])
                    else:
                        n, f, _ = wrk(port, secs,
                                      headers=("Connection: close",))
                        fails.setdefault(name, []).append(f)
                        total.setdefault(name, []).append(n)
                finally:
                    if p:
                        stop_popen(p)
                    if t:
                        t.kill()
    record(18, "sticky: requests/s, one client address, keep-alive "
           "(clusterctl --sticky; node: cluster + sticky-session)", "req/s",
           "≥ sticky-session", rps_ka, better="higher")
    record(18, "… a new connection per request", "req/s",
           "≥ sticky-session", rps_close, better="higher")
    record(18, "… workers crash every 1–3 s, new connection per request "
           "(wrk %d s): failed requests" % secs, "failures", "0", fails)
    record(18, "… requests made in that run", "requests", "—", total,
           better="higher")


def w8_logs():
    """N lines to stdout, one write(2) each: time until all are in the log
    file, against the app writing straight to a file; lines lost; daemon
    peak RSS."""
    log_flood(8, [sys.executable, os.path.join(APPS, "logflood.py")],
              ["--interpreter", "python3"], "the app",
              "≤ 1.2 (pm2 ≈ 1.55)")


def w12_logs_block():
    """N lines to stdout through a block-buffered writer (awk): the bulk
    capture path, against awk writing straight to a file."""
    log_flood(12, [os.path.join(APPS, "logblock.sh")],
              ["--interpreter", "sh"], "awk", "≤ 1.1")


def log_flood(workload, argv, pm2_args, direct_name, goal):
    """Run argv (BENCH_LINES 64-byte numbered lines to stdout) under each
    tool with -o FILE and record the time until all lines are in the file,
    against argv writing straight to a file (the "node" column, named
    direct_name in the figure)."""
    n = CFG["log_lines"]
    size = 64 * n
    secs, lost, peak, direct = {}, {}, {}, []
    for rep in range(CFG["log_reps"]):
        # The same app writing straight to a file, for the ratio.
        out = os.path.join(TMP, "direct.log")
        with open(out, "wb") as f:
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=f, check=True,
                           env=dict(os.environ, BENCH_LINES=str(n)))
            direct.append(time.perf_counter() - t0)
        os.unlink(out)
        for name in tools_in_turn(rep):
            if name == "pm2" and not PM2:
                continue
            if name == "clusterctl" and not FEATURES["out_file"]:
                continue
            t = fresh(name, "w%d" % workload)
            t.env["BENCH_LINES"] = str(n)
            out = os.path.join(t.home, "flood.log")
            try:
                pid = t.up()
                base = rss_kb(pid)
                hi = base
                t0 = time.perf_counter()
                if name == "clusterctl":
                    norot = []
                    if FEATURES["log_max_size"]:
                        norot = ["--log-max-size", "0" if
                                 FEATURES["log_max_size_0"] else "1024M"]
                    t.run("start", argv[-1], "--name", "flood",
                          "--no-autorestart", "-o", out, "-e", "/dev/null",
                          "--no-wait", *norot)
                else:
                    t.run("start", argv[-1], "--name", "flood",
                          "--no-autorestart", *pm2_args, "-o", out,
                          "-e", "/dev/null")
                last, last_t = -1, time.perf_counter()
                while True:
                    hi = max(hi, rss_kb(pid))
                    try:
                        cur = os.stat(out).st_size
                    except OSError:
                        cur = 0
                    now = time.perf_counter()
                    if cur != last:
                        last, last_t = cur, now
                    if cur >= size or now - last_t > 3 or now - t0 > 300:
                        break
                    time.sleep(0.005)
                secs.setdefault(name, []).append(last_t - t0)
                seen = set()
                # The file and any rotated siblings (out.1, out.2.gz...).
                for fn in glob.glob(glob.escape(out) + "*"):
                    opener = gzip.open if fn.endswith(".gz") else open
                    with opener(fn, "rb") as f:
                        for line in f:
                            if len(line) == 64 and line[:8].isdigit():
                                seen.add(int(line[:8]))
                lost.setdefault(name, []).append(n - len(seen))
                peak.setdefault(name, []).append(hi / 1024)
            finally:
                t.kill()
    ratio = {k: [s / statistics.median(direct) for s in v]
             for k, v in secs.items()}
    for d in (secs, lost, peak, ratio):
        if "pm2" in CFG["tools"] and not PM2:
            d["pm2"] = pm2_missing()
        if not FEATURES["out_file"]:
            d["clusterctl"] = na_feature("--out-file")
    secs["node"] = direct
    record(workload, "{:,} log lines until all are in the file (node column: "
           "{} writing straight to a file)".format(n, direct_name),
           "s", "—", secs)
    record(workload, "… that time / the app writing straight to the file",
           "×", goal, ratio)
    record(workload, "… lines lost", "lines", "0", lost)
    record(workload, "… daemon peak RSS during the flood", "MB", "< 10 MB",
           peak)




def w9_idle():
    """Idle daemon CPU (ticks) and wakeups (context switches) over
    idle_s seconds with 10 apps running; both tools in the same window."""
    tools = []
    cpu, wake = {}, {}
    for name in CFG["tools"]:
        if name == "pm2" and not PM2:
            cpu[name] = wake[name] = pm2_missing()
            continue
        t = fresh(name, "w9")
        pid = t.up()
        t.start_many(["idle%d" % i for i in range(10)])
        wait_for(lambda: len(children(pid, "sleep")) >= 10, 30)
        tools.append((t, pid))
    try:
        time.sleep(2)
        before = [(cpu_ticks(p), ctx_switches(p)) for _, p in tools]
        time.sleep(CFG["idle_s"])
        for (t, p), (c0, w0) in zip(tools, before):
            per_min = 60.0 / CFG["idle_s"]
            cpu[t.name] = [(cpu_ticks(p) - c0) * 1000.0 / CLK_TCK * per_min]
            wake[t.name] = [(ctx_switches(p) - w0) / CFG["idle_s"]]
    finally:
        for t, _ in tools:
            t.kill()
    record(9, "idle daemon CPU, 10 apps running (over %d s)" % CFG["idle_s"],
           "ms CPU/min", "— (lower is better)", cpu)
    record(9, "… daemon wakeups (context switches, all threads)", "per s",
           "—", wake)


def tmux_run(tool, args, sock):
    """The tool's CLI with ARGS in a detached 80x24 tmux session on its
    own socket (monit needs a terminal)."""
    env = dict(tool.env, TERM="xterm")
    subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-x", "80",
                    "-y", "24", " ".join(tool.argv0 + args)], env=env,
                   check=True)


def tmux_kill(sock):
    subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)


def w13_monit():
    """Daemon CPU while monit runs for monit_s seconds in an 80x24
    terminal (tmux), 10 apps running (pm2: pm2 monit)."""
    cpu, ui = {}, {}
    if not shutil.which("tmux"):
        record(13, "daemon CPU while monit runs", "ms CPU/min", "—",
               {n: "n/a: no tmux" for n in CFG["tools"]})
        return
    for name in CFG["tools"]:
        if name == "pm2" and not PM2:
            cpu[name] = ui[name] = pm2_missing()
            continue
        if name == "clusterctl" and not FEATURES["monit"]:
            cpu[name] = ui[name] = na_feature("monit")
            continue
        t = fresh(name, "w13")
        sock = os.path.join(t.home, "tmux.sock")
        try:
            pid = t.up()
            t.start_many(["mon%d" % i for i in range(10)])
            wait_for(lambda: len(children(pid, "sleep")) >= 10, 30)
            tmux_run(t, ["monit"], sock)
            time.sleep(2)
            mon = [p for p in tagged_pids() if b"monit" in (read(
                "/proc/%d/cmdline" % p, "rb") or b"")]
            c0 = cpu_ticks(pid)
            m0 = sum(cpu_ticks(p) for p in mon)
            time.sleep(CFG["monit_s"])
            per_min = 60.0 / CFG["monit_s"]
            cpu[name] = [(cpu_ticks(pid) - c0) * 1000.0 / CLK_TCK * per_min]
            ui[name] = [(sum(cpu_ticks(p) for p in mon) - m0) * 1000.0 /
                        CLK_TCK * per_min]
        finally:
            tmux_kill(sock)
            t.kill()
    record(13, "daemon CPU while monit runs %d s, 10 apps" % CFG["monit_s"],
           "ms CPU/min", "— (pm2 monit burns a CPU: pm2 #2793)", cpu)
    record(13, "… the monit process's own CPU", "ms CPU/min", "—", ui)


def http_get_ms(port, path="/metrics"):
    """Milliseconds for one HTTP GET of 127.0.0.1:PORT/PATH (body read)."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("GET %s HTTP/1.0\r\n\r\n" % path).encode())
    while s.recv(65536):
        pass
    s.close()
    return (time.perf_counter() - t0) * 1000


def w14_scrape():
    """A metrics scrape with N instances: GET /metrics (pm2's exporters
    run `pm2 jlist`'s round trip on every scrape)."""
    res = {n: {} for n in CFG["scrape_sizes"]}
    for name in CFG["tools"]:
        if name == "pm2" and not PM2:
            for n in res:
                res[n][name] = pm2_missing()
            continue
        if name == "clusterctl" and not FEATURES["metrics"]:
            for n in res:
                res[n][name] = na_feature("metrics")
            continue
        t = fresh(name, "w14")
        try:
            pid = t.up()
            port = free_port()
            if name == "clusterctl":
                t.run("metrics", "--listen", "127.0.0.1:%d" % port)
            have = 0
            for n in CFG["scrape_sizes"]:
                t.start_sleep("scr%d" % n, n - have, wait=False)
                have = n
                if not wait_for(lambda: len(children(pid, "sleep")) >= n,
                                300, 0.1):
                    res[n][name] = "failed: not all %d running" % n
                    break
                time.sleep(CFG["settle_s"])
                if name == "clusterctl":
                    http_get_ms(port)
                    res[n][name] = [http_get_ms(port)
                                    for _ in range(CFG["scrape_runs"])]
                else:
                    res[n][name] = [1000 * time_command(
                        t, ["jlist"], max(3, CFG["scrape_runs"] // 4))]
        finally:
            t.kill()
    for n in CFG["scrape_sizes"]:
        record(14, "metrics scrape, %d instances (pm2: `jlist`)" % n, "ms",
               "well under 1 ms per 100 instances", res[n])


def w15_memory_limit():
    """--max-memory-restart: from an instance crossing its limit to its
    replacement online (pm2 checks every 30 s)."""
    res = {}
    grow = os.path.join(APPS, "grow.py")
    for name in CFG["tools"]:
        if name == "pm2" and not PM2:
            res[name] = pm2_missing()
            continue
        if name == "clusterctl" and not FEATURES["max_memory_restart"]:
            res[name] = na_feature("--max-memory-restart")
            continue
        res[name] = []
        for rep in range(CFG["mem_reps"]):
            t = fresh(name, "w15")
            gate = os.path.join(t.home, "grow")
            try:
                t.up()
                if name == "clusterctl":
                    t.run("start", grow, "--name", "grow",
                          "--max-memory-restart", "60M", "--listen-timeout",
                          "0", "--env", "GATE=" + gate)
                else:
                    t.run("start", grow, "--name", "grow",
                          "--max-memory-restart", "60M", "--interpreter",
                          "python3")
                    # pm2 passes its environment: the gate by file name.
                pid0 = [p for _, _, p in t.list()][0]
                with open(gate if name == "clusterctl" else
                          "/tmp/bench-grow-%d" % pid0, "w"):
                    pass
                over = None
                end = time.monotonic() + 120
                while time.monotonic() < end:
                    if over is None and rss_kb(pid0) > 60 * 1024:
                        over = time.monotonic()
                    rows = t.list()
                    if rows and rows[0][2] not in (pid0, None, 0) and \
                            rows[0][1] == "online":
                        break
                    time.sleep(0.01)
                else:
                    raise RuntimeError("%s: no replacement in 120 s" % name)
                if over is not None:
                    res[name].append(time.monotonic() - over)
            finally:
                t.kill()
    record(15, "memory limit: over the limit to replacement online", "s",
           "≈ 1 s (pm2 ≈ 30 s)", res)


def chart(results, out):
    """A gnuplot SVG of every clusterctl/pm2 ratio (log scale; below 1
    means clusterctl is smaller or faster, except for rows where higher is
    better, which are inverted so that below 1 is always better)."""
    gp = shutil.which("gnuplot")
    rows = [r for r in results if "ratio" in r and r["ratio"] > 0]
    if not gp or not rows:
        return False
    dat = out + ".dat"
    with open(dat, "w") as f:
        for i, r in enumerate(rows):
            v = r["ratio"] if r.get("better") != "higher" else 1 / r["ratio"]
            label = "%s %s" % (r["workload"], re.sub(r"[`…\"]", "",
                                                      r["figure"])[:50])
            f.write('%d "%s" %g\n' % (i, label.strip(), v))
    script = """set terminal svg size 900,%d font 'sans,11'
set output '%s'
set title 'clusterctl / pm2, log scale: below 1, clusterctl is better (for requests and req/s the bar shows pm2 / clusterctl)'
set logscale x
set xrange [0.001:100]
set style fill solid 0.6
set ytics scale 0
set yrange [%d:-1]
set lmargin 52
set grid xtics
unset key
plot '%s' using (sqrt($3*1)):1:(1<$3?1:$3):(1<$3?$3:1):($1-0.35):($1+0.35):yticlabels(2) with boxxyerror lc rgb '#3a7bd5'
""" % (120 + 28 * len(rows), out, len(rows), dat)
    p = subprocess.run([gp], input=script.encode(), capture_output=True)
    os.unlink(dat)
    return p.returncode == 0


def all_online(t, n, exclude=()):
    """The tool lists n apps, every one online with a pid not in exclude."""
    try:
        st = t.list()
    except (RuntimeError, subprocess.SubprocessError, ValueError):
        return False
    return len(st) == n and all(s == "online" and p and p not in exclude
                                for _, s, p in st)


def w10_resurrect():
    """State: `resurrect` of N saved apps until all online (pm2 resurrect)."""
    n = CFG["apps"]
    res = {}
    if "pm2" in CFG["tools"] and not PM2:
        res["pm2"] = pm2_missing()
    for rep in range(CFG["reps"]):
        for name in tools_in_turn(rep):
            if name == "pm2" and not PM2:
                continue
            t = fresh(name, "w10")
            t.up()
            t.start_many(["app%03d" % i for i in range(n)])
            if not wait_for(lambda: all_online(t, n), 60, 0.05):
                raise RuntimeError("%s: the apps never were online" % name)
            t.run("save")
            t.kill()
            t0 = time.perf_counter()
            t.run("resurrect")
            if not wait_for(lambda: all_online(t, n), 60, 0.01):
                raise RuntimeError("%s: resurrect left apps offline" % name)
            res.setdefault(name, []).append(time.perf_counter() - t0)
            t.kill()
    record(10, "`resurrect` of %d saved apps until all online" % n, "s",
           "< pm2", res)


def w11_sigkill():
    """State: SIGKILL of the daemon until every app is online again (pm2:
    its apps are orphaned and its next daemon lists none)."""
    n = CFG["apps"]
    res = {}
    for rep in range(CFG["reps"]):
        for name in tools_in_turn(rep):
            if name == "pm2" and not PM2:
                continue
            t = fresh(name, "w11")
            t.up()
            t.start_many(["app%03d" % i for i in range(n)])
            if not wait_for(lambda: all_online(t, n), 60, 0.05):
                raise RuntimeError("%s: the apps never were online" % name)
            old = {p for _, _, p in t.list()}
            t0 = time.perf_counter()
            os.kill(t.daemon_pid(), signal.SIGKILL)
            # No command but list, which (pm2) starts a daemon if none.
            if wait_for(lambda: all_online(t, n, old), 10, 0.01):
                res.setdefault(name, []).append(time.perf_counter() - t0)
            elif name == "pm2":
                res[name] = "never: its next daemon lists %d apps" % len(
                    t.list())
                # Its orphans run on, unknown to its new daemon: ours to end.
                mark = ("PM2_HOME=" + t.home).encode()
                for pid in tagged_pids():
                    env = read("/proc/%d/environ" % pid, "rb") or b""
                    if mark in env.split(b"\0") and (read(
                            "/proc/%d/comm" % pid) or "").strip() == "sleep":
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
            else:
                raise RuntimeError("clusterctl: apps not back after 10 s")
            t.kill()
    if "pm2" in CFG["tools"] and not PM2:
        res["pm2"] = pm2_missing()
    record(11, "SIGKILL of the daemon until %d apps online again" % n, "s",
           "< 2 s, no command (pm2: never)", res)


def w19_upgrade():
    """State: failed requests during 3 in-place upgrades of the daemon
    under wrk (pm2: `pm2 update`, which restarts every app)."""
    reqs, fails, took, kept = {}, {}, {}, {}
    secs = CFG["wrk_s"]
    app = os.path.join(APPS, "drain.js")
    for rep in range(CFG["wrk_reps"]):
        for name in tools_in_turn(rep):
            why = http_na(name)
            if not why and name == "clusterctl" and not FEATURES["upgrade"]:
                why = na_feature("upgrade")
            if why:
                reqs[name] = fails[name] = took[name] = kept[name] = why
                continue
            t = fresh(name, "w19")
            port = free_port()
            cmd = "upgrade" if name == "clusterctl" else "update"
            try:
                start_http("web", t, app, port)
                before = {p for _, _, p in t.list() if p}
                times = []

                def upgrade3(t0):
                    for k in range(3):
                        time.sleep(max(0, t0 + secs * (k + 1) / 4 -
                                       time.monotonic()))
                        r0 = time.monotonic()
                        t.run(cmd)
                        times.append(time.monotonic() - r0)
                n, f, _ = wrk(port, secs, upgrade3)
                after = {p for _, _, p in t.list() if p}
                reqs.setdefault(name, []).append(n)
                fails.setdefault(name, []).append(f)
                took.setdefault(name, []).extend(times)
                kept.setdefault(name, []).append(len(before & after))
            finally:
                t.kill()
    record(19, "3 in-place daemon upgrades under wrk (%d s, 64 conns), "
           "`apps/drain.js` -i 2: requests" % secs, "requests", "—", reqs,
           better="higher")
    record(19, "… failed requests (non-2xx + socket errors)", "failures",
           "0 (pm2 `update` restarts every app)", fails)
    record(19, "… time of one `upgrade` (pm2: `update`)", "s", "—", took)
    record(19, "… instances still running with their pid after the 3 "
           "(of 2)", "instances", "2", kept, better="higher")


WORKLOADS = {1: w1_round_trip, 2: w2_rss, 3: w3_start_delete, 4: w4_crash,
             5: w5_reload, 6: w6_crashing, 7: w7_throughput, 8: w8_logs,
             9: w9_idle, 10: w10_resurrect, 11: w11_sigkill,
             12: w12_logs_block, 13: w13_monit, 14: w14_scrape,
             15: w15_memory_limit,
             16: w16_spread, 17: w17_cpu_modes, 18: w18_sticky,
             19: w19_upgrade}

CFG = CONFIGS.get(MODE)


def main():
    if CFG is None:
        sys.exit("bench: BENCH must be full, quick or smoke, not '%s'" % MODE)
    if not TMP or not os.path.isdir(TMP) or not CC:
        sys.exit("bench: run me through tests/bench/run")
    if sys.argv[1:] == ["--cleanup"]:
        sys.exit(1 if cleanup() else 0)
    if sys.argv[1:2] == ["--chart"] and len(sys.argv) == 4:
        d = json.loads(read(sys.argv[2]))
        sys.exit(0 if chart(d["results"], sys.argv[3]) else 1)
    only = os.environ.get("BENCH_ONLY", "")
    todo = [int(x) for x in only.split(",") if x] or CFG["workloads"]
    detect_features()
    info = machine()
    started = datetime.datetime.now(datetime.timezone.utc)
    log("mode %s, workloads %s, clusterctl features %s" % (
        MODE, todo, ", ".join(k for k, v in FEATURES.items() if v)))
    errors = []
    try:
        for w in todo:
            t0 = time.monotonic()
            log("workload %d: %s" % (w, WORKLOADS[w].__doc__.split("\n")[0]))
            try:
                WORKLOADS[w]()
            except (RuntimeError, subprocess.SubprocessError, OSError) as e:
                errors.append("workload %d: %s" % (w, e))
                log("workload %d failed: %s" % (w, e))
                RESULTS.append(dict(workload=w, figure="failed: %s" %
                                    str(e).replace("|", "/")[:200],
                                    unit="", goal=""))
                cleanup()
            log("workload %d took %.1f s" % (w, time.monotonic() - t0))
    finally:
        left = cleanup()
    if left:
        errors.append("processes left behind: %s" % left)
    finished = datetime.datetime.now(datetime.timezone.utc)
    info["load_end"] = os.getloadavg()[0]
    head = ("clusterctl benchmark, BENCH=%s, %s UTC, %.0f s, load average "
            "%.2f at the start and %.2f at the end\n\n"
            "Machine: %d CPUs (%s), Linux %s, %s, %d MB RAM; node %s, "
            "pm2 %s, clusterctl %s (%s)\n" % (
                MODE, started.strftime("%Y-%m-%d %H:%M"),
                (finished - started).total_seconds(), info["load"],
                info["load_end"], info["cpus"],
                info["cpu_model"], info["kernel"], info["os"],
                info["memory_mb"], info["node"], info["pm2"],
                info["clusterctl"].replace("clusterctl ", "", 1),
                info["commit"]))
    md = head + "\n" + table() + "\n"
    if errors:
        md += "\nErrors:\n" + "".join("- %s\n" % e for e in errors)
    print(md)
    outdir = os.environ.get("BENCH_RESULTS") or os.path.join(HERE, "results")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write(md)
    with open(os.path.join(outdir, "latest.json"), "w") as f:
        json.dump(dict(mode=MODE, started=started.isoformat(),
                       finished=finished.isoformat(), machine=info,
                       features=FEATURES, results=RESULTS, errors=errors),
                  f, indent=1)
        f.write("\n")
    if chart(RESULTS, os.path.join(outdir, "latest.svg")):
        log("wrote %s/latest.svg" % outdir)
    log("wrote %s/latest.md and latest.json" % outdir)
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        cleanup()
        sys.exit(130)

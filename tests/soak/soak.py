#!/usr/bin/env python3
"""The soak (not part of make check): restart instances RESTARTS times,
open and drop CLIENTS clients, and follow the logs meanwhile; then show
that the daemon's descriptor count and RSS stayed flat, comparing the
samples of the first and the last thousand restarts.

    tests/soak/soak.py BUILD/clusterctl [RESTARTS [CLIENTS]]

Run it under ASan with the binary of `make check-asan` (build-asan/): the
daemon's log is then checked for sanitizer reports too.  Exits non-zero
when the descriptors grew, the RSS grew by more than 20% after the first
quarter of the run (the allocator warms up during the first thousand
restarts: the first and last thousand are printed, and compared), the
daemon died
or a sanitizer spoke.  Prints one summary line per measure (for
docs/robustness.md)."""
import json, os, random, shutil, signal, socket, struct, subprocess, sys
import tempfile, threading, time

binary = os.path.abspath(sys.argv[1])
restarts = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
home = tempfile.mkdtemp(prefix="clusterctl-soak-")
# A copy of the binary (and the preload beside it): a rebuild meanwhile
# does not pull it from under the soak.
for f in ("clusterctl", "libclusterctl-share.so"):
    src = os.path.join(os.path.dirname(binary), f)
    if os.path.exists(src):
        shutil.copy2(src, os.path.join(home, f))
binary = os.path.join(home, "clusterctl")
env = dict(os.environ, CLUSTERCTL_HOME=home, NO_COLOR="1")
# Under ASan a small quarantine, so that the RSS means something.
env.setdefault("ASAN_OPTIONS", "detect_leaks=1:quarantine_size_mb=4")


def cli(*args, check=True):
    r = subprocess.run([binary, *args], env=env, capture_output=True,
                       text=True, timeout=120)
    if check and r.returncode != 0:
        sys.exit("soak: clusterctl %s failed: %s" % (" ".join(args),
                                                     r.stderr.strip()))
    return r.stdout


def daemon_pid():
    with open(os.path.join(home, "daemon.pid")) as f:
        return int(f.read())


def sample(pid):
    fds = len(os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return fds, rss


def total_restarts():
    rows = json.loads(cli("list", "--json"))
    return sum(r["restarts"] for r in rows if r["name"] == "churn")


def frame(obj):
    b = json.dumps(obj).encode()
    return struct.pack(">I", len(b)) + b


def client_storm(n, sock, stop):
    """Open and drop n clients, in every way a client can go away."""
    rnd = random.Random(16)
    for i in range(n):
        if stop.is_set():
            return
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(10)
            s.connect(sock)
            kind = i % 5
            if kind == 0:  # a ping, read
                s.sendall(frame({"v": 1, "id": i, "cmd": "ping"}))
                s.recv(4096)
            elif kind == 1:  # a request, gone before the reply
                s.sendall(frame({"v": 1, "id": i, "cmd": "list"}))
            elif kind == 2:  # half a frame
                s.sendall(struct.pack(">I", 100) + b'{"v":1')
            elif kind == 3:  # garbage
                s.sendall(bytes(rnd.getrandbits(8) for _ in range(64)))
            else:  # a tail, dropped after its first reply
                s.sendall(frame({"v": 1, "id": i, "cmd": "logs", "args":
                                 {"targets": ["churn"], "lines": 1000}}))
                s.recv(16)
        except OSError:
            pass
        finally:
            s.close()


def main():
    cli("ping")
    pid = daemon_pid()
    # An app that prints a line and exits at once, restarted at once.
    cli("start", "/bin/echo", "--name", "churn", "-i", "2", "--no-wait",
        "--restart-delay", "0", "--min-uptime", "0", "--", "soak line")
    follower = subprocess.Popen([binary, "logs", "churn", "-f", "--raw"],
                                env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    stop = threading.Event()
    storm = threading.Thread(target=client_storm,
                             args=(clients, os.path.join(home, "sock"), stop))
    storm.start()
    samples = []  # (restarts, fds, rss)
    start = time.time()
    try:
        while True:
            n = total_restarts()
            fds, rss = sample(pid)
            samples.append((n, fds, rss))
            if n >= restarts and not storm.is_alive():
                break
            if time.time() - start > 3600:
                sys.exit("soak: not done within an hour (%d restarts)" % n)
            time.sleep(0.5)
    finally:
        stop.set()
        storm.join()
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
    secs = time.time() - start
    cli("stop", "churn")
    # Settle: the last handles close, then one more sample.
    time.sleep(1)
    fds_end, rss_end = sample(pid)
    first = [s for s in samples if s[0] <= 1000]
    last = [s for s in samples if s[0] >= samples[-1][0] - 1000]
    avg = lambda xs, k: sum(x[k] for x in xs) / max(len(xs), 1)
    print("soak: %d restarts and %d clients in %.0f s (%s)" % (
        samples[-1][0], clients, secs, sys.argv[1]))
    print("soak: descriptors: first thousand %.1f, last thousand %.1f, "
          "at the end %d" % (avg(first, 1), avg(last, 1), fds_end))
    print("soak: RSS (KiB): first thousand %.0f, last thousand %.0f, at "
          "the end %d" % (avg(first, 2), avg(last, 2), rss_end))
    q = [samples[min(len(samples) - 1, len(samples) * k // 4)] for k in
         range(5)]
    print("soak: RSS (KiB) over the run, at 0/25/50/75/100%%: %s" %
          " ".join(str(x[2]) for x in q))
    cli("kill")
    bad = []
    if avg(last, 1) > avg(first, 1) + 2:
        bad.append("descriptors grew")
    # The allocator warms up during the first thousand restarts (its
    # arenas, the loop's buffers): flat means no growth after that.
    if avg(last, 2) > q[1][2] * 1.2:
        bad.append("RSS grew by more than 20% after the first quarter")
    with open(os.path.join(home, "daemon.log"), errors="replace") as f:
        text = f.read()
    for word in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if word in text:
            bad.append("a sanitizer report (%s)" % word)
    if bad:
        print("soak: FAILED: " + ", ".join(bad) + "; home kept: " + home)
        sys.exit(1)
    shutil.rmtree(home, ignore_errors=True)
    print("soak: flat")


main()

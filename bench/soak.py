# SPDX-License-Identifier: Apache-2.0
"""bench/soak.py - tokengate under mixed traffic for a long time, by hand.

Runs tokengate against a local HTTPS provider (tests/integration/provider.py)
and, for DURATION seconds (default 1800), sends a mix of valid, expired,
forged-kid and anonymous requests from several threads, plus malformed
records, idle and slow connections; every 30 s a SIGHUP, every 90 s a key
rotation, and now and then a provider that fails (500) or hangs. Every 10 s
it samples tokengate's resident memory and open file descriptors, and at the
end prints them with the request counts. It fails (exit 1) when a request
gets an answer it should not, or when memory or descriptors keep growing:
the last quarter's samples may not exceed the first quarter's by more than
10 MiB or 16 descriptors.

    TOKENGATE=build/plain/tokengate /usr/bin/python3 bench/soak.py [DURATION]
"""
import os
import random
import signal
import socket
import struct
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import fcgi_client  # noqa: E402
import harness  # noqa: E402
from provider import JWKS_PATH, Provider, SigningKey  # noqa: E402

ISSUER = "https://auth.example.com"


def sample(pid):
    with open("/proc/%d/status" % pid) as status:
        rss = [int(line.split()[1]) for line in status if line.startswith("VmRSS:")][0]
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def main():
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 1800.0
    work = tempfile.mkdtemp(prefix="tokengate-soak-")
    os.chmod(work, 0o755)
    provider = Provider(work)
    address = os.path.join(work, "tg.sock")
    config = os.path.join(work, "tokengate.conf")
    with open(config, "w") as out:
        out.write("[tokengate]\nlisten = %s\nthreads = 4\nlog_level = warn\n"
                  "state_dir = %s/state\nrequest_timeout = 2\n" % (address, work))
        out.write("[token]\njwks = %s%s\nissuer = %s\nca_file = %s\n"
                  "refresh_min_interval = 2\nrefresh_interval = 20\n"
                  % (provider.url, JWKS_PATH, ISSUER, provider.ca_file))
        out.write("[rule app]\npath = /app/**\n[rule open]\npath = /open/**\nrequire = open\n")
    process = harness.Process([harness.TOKENGATE, "-c", config], os.path.join(work, "tg.log"))
    harness.wait_for(lambda: os.path.exists(address), "tokengate")
    pid = process.process.pid
    stop = threading.Event()
    counts = {"ok": 0, "wrong": 0, "errors": 0}
    lock = threading.Lock()
    wrong = []

    def count(name, detail=None):
        with lock:
            counts[name] += 1
            if detail and len(wrong) < 20:
                wrong.append(detail)

    def client(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            kind = rng.choice(["valid", "valid", "valid", "expired", "forged", "none", "open"])
            key = provider.current
            claims = {"user_id": "u-soak", "iss": ISSUER}
            if kind == "valid":
                # 401 while a rotation is not fetched yet (or the provider fails)
                token, expected = key.sign(claims), (200, 401, 503)
            elif kind == "expired":
                token, expected = key.sign(claims, ttl=-600), (401, 503)  # 503: no key yet
            elif kind == "forged":
                token, expected = SigningKey("forged-%d" % rng.randrange(10**6)).sign(claims), \
                    (401, 503)
            else:
                token, expected = None, (200,) if kind == "open" else (401,)
            path = "/open/x" if kind == "open" else "/app/x"
            params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path}
            if token:
                params["HTTP_AUTHORIZATION"] = "Bearer " + token
            try:
                status = fcgi_client.request(address, params)[0]
            except OSError as error:
                count("errors", "%s: %s" % (kind, error))
                continue
            if status in expected:
                count("ok")
            else:
                count("wrong", "%s got %d" % (kind, status))

    def hostile(seed):
        rng = random.Random(seed)
        held = []
        while not stop.is_set():
            try:
                sock = socket.socket(socket.AF_UNIX)
                sock.connect(address)
                choice = rng.random()
                if choice < 0.3:
                    sock.sendall(struct.pack("!BBHHBx", 1, 1, 1, 8, 0) +
                                 struct.pack("!HB5x", 1, 0) +
                                 struct.pack("!BBHHBx", 1, 4, 1, 8, 0) +
                                 b"\xff\xff\xff\xfe\x02ABC")
                    sock.close()
                elif choice < 0.6:
                    held.append(sock)          # idle, closed by request_timeout
                else:
                    sock.send(b"\x01")         # slow
                    held.append(sock)
            except OSError:
                pass
            if len(held) > 200:
                for sock in held:
                    sock.close()
                held = []
            time.sleep(0.02)
        for sock in held:
            sock.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=hostile, args=(100 + i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    samples = []
    started = time.monotonic()
    rng = random.Random(1)
    last_hup = last_rotation = started
    rotation = 0
    try:
        while time.monotonic() - started < duration:
            time.sleep(10)
            now = time.monotonic()
            if now - last_hup >= 30:
                process.send(signal.SIGHUP)
                last_hup = now
            if now - last_rotation >= 90:
                rotation += 1
                provider.rotate("k-soak-%d" % rotation, keep_old=True)
                last_rotation = now
            trouble = rng.random()
            provider.release.set()
            if trouble < 0.1:
                provider.set_answer(JWKS_PATH, 500)
            elif trouble < 0.15:
                provider.release.clear()
                provider.set_answer(JWKS_PATH, "hang")
            else:
                provider.set_answer(JWKS_PATH, "ok")
            rss, fds = sample(pid)
            samples.append((now - started, rss, fds))
            with lock:
                print("%6.0f s  rss %6d KiB  fds %4d  ok %d  wrong %d  errors %d" % (
                    now - started, rss, fds, counts["ok"], counts["wrong"], counts["errors"]),
                    flush=True)
    finally:
        stop.set()
        provider.release.set()
        for thread in threads:
            thread.join()
        status = process.stop()
        provider.stop()
    quarter = max(1, len(samples) // 4)
    first, last = samples[:quarter], samples[-quarter:]
    rss_growth = max(s[1] for s in last) - max(s[1] for s in first)
    fd_growth = max(s[2] for s in last) - max(s[2] for s in first)
    print("requests: %d as expected, %d wrong, %d errors; exit status %s" % (
        counts["ok"], counts["wrong"], counts["errors"], status))
    print("rss KiB first quarter max %d, last quarter max %d (growth %d); "
          "fds first quarter max %d, last quarter max %d (growth %d)" % (
              max(s[1] for s in first), max(s[1] for s in last), rss_growth,
              max(s[2] for s in first), max(s[2] for s in last), fd_growth))
    for detail in wrong:
        print("  " + detail)
    failed = counts["wrong"] > 0 or status != 0 or rss_growth > 10240 or fd_growth > 16
    print("%d passed, %d failed" % (0 if failed else 1, 1 if failed else 0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

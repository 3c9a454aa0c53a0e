#!/usr/bin/env python3
"""Measures an MCP stdio bridge against calling the MCP server directly.

    python3 bench/mcp_bridge.py start  URL -- BRIDGE ARGS...   # start to tools/list answer
    python3 bench/mcp_bridge.py calls  URL -- BRIDGE ARGS...   # per-call time, CPU, memory
    python3 bench/mcp_bridge.py direct URL TOKEN               # per-call time, no bridge

Prints one JSON line. Per-call figures come from CALLS (default 500)
sequential `tools/call whoami` after WARMUP (default 50) unmeasured ones.
For a bridge it also reports the peak RSS (VmHWM) of its process tree, read
from /proc once the calls are done, the part of it no other process shares
(private pages: most of the rest is the executable's and libc's code, shared
with the page cache), and its CPU time (user + system) per
call, which other load on the machine disturbs less than wall-clock times.
The direct client keeps one HTTP/1.1 connection open, as the bridges do,
and does as little as a client can per call.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

CALLS = int(os.environ.get("CALLS", "500"))
WARMUP = int(os.environ.get("WARMUP", "50"))
PROTOCOL = "2025-06-18"


def initialize(id_):
    return {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "devauth-bench", "version": "1"},
        },
    }


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def call(id_):
    return {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}},
    }


class Bridge:
    """A bridge process spoken to in newline-delimited JSON-RPC."""

    def __init__(self, argv):
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )

    def send(self, msg):
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def answer(self, id_):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"the bridge closed its stdout waiting for answer {id_}")
            msg = json.loads(line)
            if msg.get("id") == id_:
                if "error" in msg:
                    raise SystemExit(f"answer {id_} is an error: {msg['error']}")
                return msg

    def handshake(self):
        self.send(initialize(1))
        self.answer(1)
        self.send(INITIALIZED)
        self.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = self.answer(2)["result"]["tools"]
        if not any(t["name"] == "whoami" for t in tools):
            raise SystemExit(f"no whoami tool: {tools}")
        return time.perf_counter() - self.t0

    def tree(self):
        """The bridge's pid and its descendants' (npx-style launchers)."""
        pids, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except FileNotFoundError:
                pass
        return pids

    def peak_rss_kib(self):
        """VmHWM summed over the bridge's process tree."""
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
            except (FileNotFoundError, StopIteration):
                pass
        return total

    def private_kib(self):
        """Memory of the bridge's process tree no other process shares (USS:
        private clean + private dirty), now."""
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for l in f:
                        if l.startswith(("Private_Clean:", "Private_Dirty:")):
                            total += int(l.split()[1])
            except FileNotFoundError:
                pass
        return total

    def cpu_seconds(self):
        """User + system CPU time of the bridge's process tree so far."""
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except FileNotFoundError:
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def timed(fn):
    times = []
    for i in range(WARMUP + CALLS):
        t = time.perf_counter()
        fn(i)
        if i >= WARMUP:
            times.append((time.perf_counter() - t) * 1000)
    return {
        "calls": CALLS,
        "mean_ms": round(statistics.fmean(times), 4),
        "median_ms": round(statistics.median(times), 4),
    }


def bridged(argv, measure_calls):
    b = Bridge(argv)
    try:
        start = b.handshake()
        out = {"start_to_tools_list_ms": round(start * 1000, 2)}
        if measure_calls:

            def one(i):
                b.send(call(100 + i))
                b.answer(100 + i)

            cpu = b.cpu_seconds()
            out.update(timed(one))
            cpu = b.cpu_seconds() - cpu
            out["bridge_cpu_ms_per_call"] = round(cpu * 1000 / (WARMUP + CALLS), 4)
            out["peak_rss_mib"] = round(b.peak_rss_kib() / 1024, 2)
            out["private_mib"] = round(b.private_kib() / 1024, 2)
        return out
    finally:
        b.close()


def direct(url, token):
    """Calls over one kept-alive socket with the least client work Python
    allows (one send, reads until the answer is complete), so the baseline
    is the server's time and not a slow HTTP library's."""
    u = urllib.parse.urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    extra = {}

    tail = [False]

    def post(msg, expect):
        if tail[0]:
            end = b""
            while not end.endswith(b"0\r\n\r\n"):
                end += sock.recv(65536)
            tail[0] = False
        body = json.dumps(msg).encode()
        head = (
            f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            + f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(65536) or b""
        header, rest = buf.split(b"\r\n\r\n", 1)
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(rest) < n:
                rest += sock.recv(65536)
        elif headers.get("transfer-encoding") == "chunked":
            # An SSE answer: done once the event holding the answer is in
            # (as for a bridge, which relays it before the stream ends); the
            # stream's end is read before the next request.
            def answered(b):
                i = b.find(b'"result"')
                return i >= 0 and b"\n\n" in b[i:]

            while not answered(rest) and not rest.endswith(b"0\r\n\r\n"):
                rest += sock.recv(65536)
            tail[0] = not rest.endswith(b"0\r\n\r\n")
        if status != expect:
            raise SystemExit(f"{msg.get('method')}: HTTP {status}: {rest[:200]!r}")
        return headers, rest

    headers, _ = post(initialize(1), 200)
    extra["Mcp-Session-Id"] = headers["mcp-session-id"]
    extra["MCP-Protocol-Version"] = PROTOCOL
    post(INITIALIZED, 202)

    def one(i):
        _, body = post(call(100 + i), 200)
        if b'"result"' not in body:
            raise SystemExit(f"no result: {body[:200]!r}")

    return timed(one)


def main():
    mode, url, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "direct":
        result = direct(url, rest[0])
    else:
        if rest[:1] != ["--"]:
            raise SystemExit("usage: mcp_bridge.py start|calls URL -- BRIDGE ARGS...")
        result = bridged(rest[1:], measure_calls=(mode == "calls"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

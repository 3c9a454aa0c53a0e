#!/usr/bin/env python3
"""Measures an MCP stdio bridge against calling the MCP server directly.

    python3 bench/mcp_bridge.py start  URL -- BRIDGE ARGS...   # start to tools/list answer
    python3 bench/mcp_bridge.py calls  URL -- BRIDGE ARGS...   # per-call time + memory
    python3 bench/mcp_bridge.py direct URL TOKEN               # per-call time, no bridge

Prints one JSON line. Per-call figures come from CALLS (default 500)
sequential `tools/call whoami` after WARMUP (default 50) unmeasured ones; the
bridge's memory is the peak RSS (VmHWM) of its process tree, read from /proc
once the calls are done, and its CPU time per call (user + system, from
/proc, over the warm-up and measured calls) what the bridge itself spends,
which other load on the machine disturbs less than wall-clock times. The direct client keeps one HTTP/1.1 connection
open, as the bridges do.
"""

import http.client
import json
import os
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
        return out
    finally:
        b.close()


def direct(url, token):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }

    def post(msg, expect):
        conn.request("POST", u.path, body=json.dumps(msg), headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != expect:
            raise SystemExit(f"{msg.get('method')}: HTTP {r.status}: {body[:200]!r}")
        return r, body

    r, _ = post(initialize(1), 200)
    headers["Mcp-Session-Id"] = r.getheader("Mcp-Session-Id")
    headers["MCP-Protocol-Version"] = PROTOCOL
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

#!/usr/bin/env python3
"""The ring across guests (issue 22, R4.3): an application whose order
spans several VMs, so that a snapshot of all of them can be checked for a
consistent cut.

Each guest runs the test guest's record writer in serve mode
(recwriter.serve=1, tests/guest/recwriter.c): it writes one record durably
per request line on its virtio-serial port and only then answers
"ACK <line>". This driver connects to the guests' ports (the unix sockets
QEMU listens on, render-test-domain.sh RING_SOCKET), sends request i
(1, 2, …) to guest (i - 1) mod N and sends i + 1 only after i's ACK. So
guest g's disk holds records 1..n_g, and a state the guests could be in
together has n_0 >= n_1 >= … >= n_(N-1) >= n_0 - 1 (ring_lib.sh's
ring_consistent_n); snapshots taken one by one, moments apart, do not.

  ring_driver.py --progress FILE [--interval-ms MS] [--timeout-s S]
                 [--slow-log FILE [--slow-ms MS]] SOCKET…

Every 50 ms and at the end it replaces FILE with one line:
  acked=<last request answered> max_ms=<longest request> p99_ms=<…, at
  the end only> over_50ms=<requests longer than 50 ms>
  state=<running|stopped|error: …>
A request's time is from its send to its answer: a guest held by a cut
(paused) shows as one long request. SIGTERM stops it after the request in
flight. With --slow-log, every request longer than --slow-ms (default
20) appends "<wall clock s> <ms>" to that file (bench/group_cut_bench.sh
finds each cut's guest stall there). It fails (state=error, exit 1) when a guest does not answer within
--timeout-s, answers out of order, is full, or was not fresh (its READY
must say next=1: the mapping of records to requests starts at 1).
"""
import argparse
import os
import signal
import socket
import sys
import time


class Guest:
    """One guest's port: line-oriented, blocking with a timeout."""

    def __init__(self, path, timeout_s):
        deadline = time.monotonic() + 60
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot connect to {path}")
                time.sleep(0.1)
        self.sock.settimeout(timeout_s)
        self.path = path
        self.buf = b""

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def read_line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"{self.path} closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--progress", required=True)
    ap.add_argument("--interval-ms", type=float, default=2.0)
    ap.add_argument("--timeout-s", type=float, default=120.0)
    ap.add_argument("--slow-log")
    ap.add_argument("--slow-ms", type=float, default=20.0)
    ap.add_argument("sockets", nargs="+")
    args = ap.parse_args()

    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    times_ms = []
    acked = 0
    last_write = 0.0

    max_ms = 0.0
    over_50 = 0

    def write_progress(state):
        p99 = "-"  # sorting every 50 ms would cost the guests CPU
        if state != "running" and times_ms:
            ordered = sorted(times_ms)
            p99 = f"{ordered[int(len(ordered) * 0.99)]:.1f}"
        tmp = args.progress + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"acked={acked} max_ms={max_ms:.1f} p99_ms={p99} "
                    f"over_50ms={over_50} state={state}\n")
        os.replace(tmp, args.progress)

    try:
        guests = [Guest(p, args.timeout_s) for p in args.sockets]
        for g in guests:
            ready = g.read_line()
            if ready != "READY next=1":
                raise RuntimeError(f"{g.path} is not a fresh guest: {ready!r}")
        write_progress("running")
        i = 0
        while not stop:
            i += 1
            g = guests[(i - 1) % len(guests)]
            sent = time.monotonic()
            g.send(str(i))
            answer = g.read_line()
            took_ms = (time.monotonic() - sent) * 1000.0
            if answer != f"ACK {i}":
                raise RuntimeError(f"{g.path} answered {answer!r} to request {i}")
            acked = i
            times_ms.append(took_ms)
            max_ms = max(max_ms, took_ms)
            over_50 += took_ms > 50.0
            if args.slow_log and took_ms > args.slow_ms:
                with open(args.slow_log, "a") as f:
                    f.write(f"{time.time():.3f} {took_ms:.1f}\n")
            now = time.monotonic()
            if now - last_write >= 0.05:
                write_progress("running")
                last_write = now
            if args.interval_ms > 0:
                time.sleep(args.interval_ms / 1000.0)
    except (RuntimeError, OSError) as e:
        write_progress(f"error: {e}".replace("\n", " "))
        print(f"ring_driver: {e}", file=sys.stderr)
        return 1
    write_progress("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

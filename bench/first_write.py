#!/usr/bin/env python3
"""Waits for the test guest's first record of a new boot; prints when.

Usage: first_write.py CONSOLE_LOG OLD_BOOT_ID [TIMEOUT_S]

Polls the serial console file (10 ms) for a "RECWRITER START" line whose
boot_id is not OLD_BOOT_ID, then for a "REC n" line with n >= that boot's
`next`: the first record the new boot wrote. Prints its wall-clock time
(seconds since the epoch, as the host saw the line appear) and the record
number. libvirt truncates the console file when the domain starts, so a
file that shrinks is read again from its start. One process polls for the
whole wait, so that the harness does not load the TCG guest with a process
per poll (bench/rollback_bench.sh).
"""
import os
import re
import sys
import time

path, old = sys.argv[1], sys.argv[2]
deadline = time.time() + float(sys.argv[3] if len(sys.argv) > 3 else 600)
start_re = re.compile(rb"^RECWRITER START")
boot_re = re.compile(rb"boot_id=([0-9a-f]+)")
next_re = re.compile(rb" next=([0-9]+)")
rec_re = re.compile(rb"^REC ([0-9]+)")
pos, buf, nxt = 0, b"", None
while time.time() < deadline:
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if size < pos:  # a new domain start truncated the console
        pos, buf, nxt = 0, b"", None
    if size > pos:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read(size - pos)
        pos += len(data)
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if start_re.match(line):
                b, n = boot_re.search(line), next_re.search(line)
                if b and n and b.group(1).decode() != old:
                    nxt = int(n.group(1))
                continue
            m = rec_re.match(line)
            if nxt is not None and m and int(m.group(1)) >= nxt:
                print(f"{time.time():.6f} {m.group(1).decode()}")
                sys.exit(0)
    time.sleep(0.01)
print("timeout", file=sys.stderr)
sys.exit(1)

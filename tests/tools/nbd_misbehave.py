#!/usr/bin/env python3
"""Malformed NBD traffic against a server, for test-nbd-export.sh.

Speaks the fixed newstyle handshake itself (no NBD library would send
these), then one misbehaviour per case, and prints one line per case:
"<case> ok" when the server reacted as it must, else "<case> FAIL: why".

  nbd_misbehave.py SOCKET EXPORT_SIZE

Cases: an unknown export with NBD_OPT_GO (NBD_REP_ERR_UNKNOWN, the
connection stays up for another option); a malformed NBD_OPT_INFO
(NBD_REP_ERR_INVALID); a read past the end and a read of 64 MiB (EINVAL
replies, then a good read on the same connection works); a write past the
end (ENOSPC, stream still in step); an unknown command (EINVAL); a bad
request magic and a write over 32 MiB (the server hangs up); a client that
disconnects in the middle of a write's payload.
"""
import socket
import struct
import sys

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
OPT_INFO, OPT_GO = 6, 7
REP_ACK, REP_INFO = 1, 3
ERR_INVALID, ERR_UNKNOWN = 0x80000003, 0x80000006
CMD_READ, CMD_WRITE = 0, 1
EINVAL, ENOSPC = 22, 28


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("server closed the connection")
        buf += chunk
    return buf


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    magic, opt, flags = struct.unpack(">QQH", recv_exact(s, 18))
    assert magic == NBDMAGIC and opt == IHAVEOPT, "bad greeting"
    s.sendall(struct.pack(">I", 3))  # fixed newstyle, no zeroes
    return s


def option(s, opt, data):
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)
    replies = []
    while True:
        magic, o, rtype, length = struct.unpack(">QIII", recv_exact(s, 20))
        assert magic == REPLY_MAGIC and o == opt, "bad option reply"
        body = recv_exact(s, length)
        replies.append((rtype, body))
        if rtype == REP_ACK or rtype & 0x80000000:
            return replies


def go(s, name=b""):
    replies = option(s, OPT_GO, struct.pack(">I", len(name)) + name +
                     struct.pack(">H", 0))
    assert replies[-1][0] == REP_ACK, "GO refused: %r" % (replies,)


def request(s, cmd, offset, length, payload=b"", flags=0, cookie=7):
    s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie,
                          offset, length) + payload)


def reply(s, cookie=7, read_len=0):
    magic, error, handle = struct.unpack(">IIQ", recv_exact(s, 16))
    assert magic == SIMPLE_MAGIC and handle == cookie, "bad reply"
    data = recv_exact(s, read_len) if error == 0 and read_len else b""
    return error, data


def hung_up(s):
    try:
        s.settimeout(5)
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def main():
    path, size = sys.argv[1], int(sys.argv[2])
    results = []

    def case(name, fn):
        try:
            fn()
            results.append(name + " ok")
        except Exception as e:  # noqa: BLE001 — any failure is the report
            results.append("%s FAIL: %s" % (name, e))

    def unknown_export():
        s = connect(path)
        r = option(s, OPT_GO, struct.pack(">I", 7) + b"nothere" +
                   struct.pack(">H", 0))
        assert r[-1][0] == ERR_UNKNOWN, "wanted ERR_UNKNOWN, got %r" % (r,)
        go(s)  # the connection is still good for another option
        s.close()

    def malformed_info():
        s = connect(path)
        r = option(s, OPT_INFO, struct.pack(">I", 100) + b"x")
        assert r[-1][0] == ERR_INVALID, "wanted ERR_INVALID, got %r" % (r,)
        s.close()

    def bad_ranges():
        s = connect(path)
        go(s)
        request(s, CMD_READ, size - 512, 1024)
        assert reply(s)[0] == EINVAL, "read past the end not EINVAL"
        request(s, CMD_READ, 0, 64 << 20)
        assert reply(s)[0] == EINVAL, "64 MiB read not EINVAL"
        request(s, CMD_WRITE, size, 512, b"\xee" * 512)
        assert reply(s)[0] == ENOSPC, "write past the end not ENOSPC"
        request(s, 99, 0, 512)
        assert reply(s)[0] == EINVAL, "unknown command not EINVAL"
        request(s, CMD_READ, 0, 512)
        err, data = reply(s, read_len=512)
        assert err == 0 and len(data) == 512, "good read after errors failed"
        s.close()

    def bad_magic():
        s = connect(path)
        go(s)
        s.sendall(struct.pack(">IHHQQI", 0xDEADBEEF, 0, CMD_READ, 1, 0, 512))
        assert hung_up(s), "server kept a connection with a bad magic"

    def oversized_write():
        s = connect(path)
        go(s)
        request(s, CMD_WRITE, 0, 64 << 20)  # no payload follows
        assert hung_up(s), "server waited for a 64 MiB write payload"

    def cut_write():
        s = connect(path)
        go(s)
        request(s, CMD_WRITE, 0, 1 << 20, b"\x99" * 4096)  # 4 KiB of 1 MiB
        s.close()

    case("unknown-export", unknown_export)
    case("malformed-info", malformed_info)
    case("bad-ranges", bad_ranges)
    case("bad-magic", bad_magic)
    case("oversized-write", oversized_write)
    case("cut-write", cut_write)
    print("\n".join(results))
    return 0 if all(r.endswith(" ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

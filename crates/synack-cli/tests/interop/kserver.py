"""Kernel-side TCP servers for the synack interop tests (run inside the test's
network namespace).

  sink PORT RESULT       accept one connection, hash everything until EOF, write
                         "<sha256> <len>" to RESULT, then close
  hold PORT DIR          accept one connection, read until EOF (the peer closed
                         first: this side is in CLOSE-WAIT), create DIR/eof, wait
                         until DIR/go exists, then close
Both listen on every address (IPv4) and exit after their one connection.
"""

import hashlib
import os
import socket
import sys
import time

TIMEOUT = 100


def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(8)
    s.settimeout(TIMEOUT)
    return s


def sink(port, result):
    ls = listen(port)
    c, _ = ls.accept()
    c.settimeout(TIMEOUT)
    h = hashlib.sha256()
    n = 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    tmp = result + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{h.hexdigest()} {n}\n")
    os.rename(tmp, result)
    c.close()
    ls.close()
    return 0


def hold(port, d):
    ls = listen(port)
    c, _ = ls.accept()
    c.settimeout(TIMEOUT)
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
    open(os.path.join(d, "eof"), "w").close()
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(os.path.join(d, "go")):
        if time.monotonic() > deadline:
            print("never told to close", file=sys.stderr)
            return 1
        time.sleep(0.02)
    c.close()
    ls.close()
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "sink":
        return sink(int(argv[2]), argv[3])
    if cmd == "hold":
        return hold(int(argv[2]), argv[3])
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

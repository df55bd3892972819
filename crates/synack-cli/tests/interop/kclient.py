"""Kernel-side TCP clients for the synack interop tests (run inside the test's
network namespace, so the kernel's TCP talks to synack over the TUN device).

  echo HOST PORT FILE        send FILE, read everything back; print "<sha256> <len>"
  many HOST PORT N           N concurrent connections, each echoes its own message;
                             print "ok N" when every one got exactly its bytes back
  refused HOST PORT          expect ECONNREFUSED; print "refused"
  close-first HOST PORT      send "ping", read the echo, close first; print "closed"
  intercept HOST:PORT ...    one connection per destination, each echoes a message
                             naming it; print "ok N"
Exit status 0 on success, 1 on a failure (explained on stderr).
"""

import hashlib
import socket
import sys
import threading

TIMEOUT = 100


def split_hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def echo(host, port, path):
    with open(path, "rb") as f:
        data = f.read()
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    err = []

    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=send)
    t.start()
    h = hashlib.sha256()
    n = 0
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    t.join()
    s.close()
    if err:
        print(f"send failed: {err[0]}", file=sys.stderr)
        return 1
    print(f"{h.hexdigest()} {n}")
    return 0


def one_echo(host, port, msg):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    got = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        got += b
    s.close()
    return bytes(got)


def many(host, port, n):
    barrier = threading.Barrier(n)
    failures = []

    def run(i):
        msg = (f"connection {i} ".encode()) * (50 + i)
        try:
            barrier.wait(timeout=TIMEOUT)
            got = one_echo(host, port, msg)
            if got != msg:
                failures.append(f"connection {i}: sent {len(msg)} bytes, got {len(got)} back (different)")
        except Exception as e:  # noqa: BLE001 - report every failure
            failures.append(f"connection {i}: {e!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    print(f"ok {n}")
    return 0


def refused(host, port):
    try:
        s = socket.create_connection((host, port), timeout=TIMEOUT)
    except ConnectionRefusedError:
        print("refused")
        return 0
    except OSError as e:
        print(f"expected ECONNREFUSED, got {e!r}", file=sys.stderr)
        return 1
    s.close()
    print("expected ECONNREFUSED, but the connection was accepted", file=sys.stderr)
    return 1


def close_first(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    print(f"local {s.getsockname()[0]}:{s.getsockname()[1]}", flush=True)
    s.sendall(b"ping")
    got = b""
    while len(got) < 4:
        b = s.recv(4 - len(got))
        if not b:
            break
        got += b
    if got != b"ping":
        print(f"echo was {got!r}", file=sys.stderr)
        return 1
    # Nothing unread: close() sends a FIN (not a RST) and the kernel closes first.
    s.close()
    print("closed")
    return 0


def intercept(targets):
    for t in targets:
        host, port = split_hostport(t)
        msg = f"hello {t}".encode()
        got = one_echo(host, port, msg)
        if got != msg:
            print(f"{t}: echo was {got!r}", file=sys.stderr)
            return 1
    print(f"ok {len(targets)}")
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "echo":
        return echo(argv[2], int(argv[3]), argv[4])
    if cmd == "many":
        return many(argv[2], int(argv[3]), int(argv[4]))
    if cmd == "refused":
        return refused(argv[2], int(argv[3]))
    if cmd == "close-first":
        return close_first(argv[2], int(argv[3]))
    if cmd == "intercept":
        return intercept(argv[2:])
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

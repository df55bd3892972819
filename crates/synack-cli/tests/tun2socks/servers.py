"""Servers on the far side of the tun2socks test (run in the server namespace).

  echo ADDR PORT         TCP echo for many concurrent connections (asyncio)
  dns ADDR PORT IP       answer every DNS query for an A record with IP (TTL 60),
                         any other type with an empty answer; UDP over IPv4 or
                         IPv6 (as ADDR is)
Both print "ready" on stderr once they listen and run until killed.
"""

import asyncio
import resource
import socket
import struct
import sys


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def echo(addr, port):
    async def handle(r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                w.write(data)
                await w.drain()
        finally:
            w.close()

    server = await asyncio.start_server(handle, addr, port, backlog=4096)
    print("ready", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def dns(addr, port, answer):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", file=sys.stderr, flush=True)
    ip = socket.inet_aton(answer)
    while True:
        q, peer = s.recvfrom(4096)
        if len(q) < 12:
            continue
        (ident, flags, qd) = struct.unpack("!HHH", q[:6])
        # The question: labels up to a zero byte, then type and class.
        end = 12
        while end < len(q) and q[end] != 0:
            end += q[end] + 1
        question = q[12 : end + 5]
        qtype = struct.unpack("!H", q[end + 1 : end + 3])[0] if end + 3 <= len(q) else 0
        an = 1 if qtype == 1 else 0
        head = struct.pack("!HHHHHH", ident, 0x8180 | (flags & 0x0100), 1, an, 0, 0)
        body = question
        if an:
            body += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + ip
        s.sendto(head + body, peer)


def main():
    raise_nofile()
    if sys.argv[1] == "echo":
        asyncio.run(echo(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1] == "dns":
        dns(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")


main()

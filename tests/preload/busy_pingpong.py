#!/usr/bin/env python3
"""Ping-pong against a server whose epoll_wait only looks (timeout 0,
never sleeps): the preload must find a message that arrives while the
stream waits unarmed ("lazy") by looking at its ring on such a call.
  busy_pingpong.py server PORT      echo one connection, then exit
  busy_pingpong.py client PORT N    N round trips of 100 bytes; "ok N"
A client that gets no answer for 10 s exits 1."""
import select
import socket
import sys

mode, port = sys.argv[1], int(sys.argv[2])
if mode == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    c.setblocking(False)
    ep = select.epoll()
    ep.register(c.fileno(), select.EPOLLIN)
    while True:
        if not ep.poll(0):
            continue
        d = c.recv(65536)
        if not d:
            break
        c.setblocking(True)
        c.sendall(d)
        c.setblocking(False)
    sys.exit(0)
n = int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(10)
for i in range(n):
    msg = bytes([i % 251]) * 100
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        try:
            d = s.recv(len(msg) - len(got))
        except socket.timeout:
            sys.exit("no answer to round trip %d for 10 s" % i)
        if not d:
            sys.exit("server closed at round trip %d" % i)
        got += d
    if got != msg:
        sys.exit("round trip %d: other bytes" % i)
print("ok %d" % n)

#!/usr/bin/env python3
"""A redis client that stops reading: it asks for COUNT copies of a big
value, so the server's writes fill the ring and wait for room, then it
idles until the file GO exists, reads every reply and checks the bytes.
Prints "ok <bytes>" or exits 1. Usage: stall_client.py PORT GO [COUNT]"""
import os
import socket
import sys
import time

port, go = int(sys.argv[1]), sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 20
value = bytes((i * 7 + 3) % 251 for i in range(300000))
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n" % (len(value), value))
if s.recv(5) != b"+OK\r\n":
    sys.exit("SET failed")
for _ in range(count):
    s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
print("stalled", flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
reply = b"$%d\r\n%s\r\n" % (len(value), value)
want = reply * count
got = bytearray()
while len(got) < len(want):
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got += chunk
if bytes(got) != want:
    sys.exit("replies differ: %d bytes, want %d" % (len(got), len(want)))
print("ok", len(got))

"""Forking servers and an echo client, for preload-fork.sh.
  forking PORT      socketserver.ForkingTCPServer echo (the child serves)
  parent PORT N     accepts N connections; forks a child that only closes
                    its copy, then the parent itself echoes
  client PORT BYTES N  N connections in a row: sends BYTES random bytes,
                    reads them back (byte-exact), closes; prints 'ok N'"""
import os
import socket
import socketserver
import sys
import threading


def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            return
        c.sendall(d)


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        echo(self.request)


def forking(port):
    socketserver.ForkingTCPServer.allow_reuse_address = True
    with socketserver.ForkingTCPServer(("127.0.0.1", port), Echo) as s:
        s.serve_forever()


def parent(port, n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    for _ in range(n):
        c, _ = s.accept()
        pid = os.fork()
        if pid == 0:
            c.close()  # the child only drops its copy
            os._exit(0)
        os.waitpid(pid, 0)
        echo(c)
        c.close()


def client(port, size, n):
    for i in range(n):
        data = os.urandom(size)
        c = socket.create_connection(("127.0.0.1", port))
        t = threading.Thread(target=c.sendall, args=(data,))
        t.start()
        got = bytearray()
        while len(got) < size:
            d = c.recv(65536)
            if not d:
                break
            got += d
        t.join()
        c.close()
        if bytes(got) != data:
            print("connection %d: %d of %d bytes back%s" %
                  (i, len(got), size, "" if len(got) != size else ", other bytes"))
            sys.exit(1)
    print("ok", n)


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "forking":
        forking(int(a[2]))
    elif a[1] == "parent":
        parent(int(a[2]), int(a[3]))
    else:
        client(int(a[2]), int(a[3]), int(a[4]))

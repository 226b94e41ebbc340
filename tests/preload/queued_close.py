# The listener closes with a connection in its accept queue that sent
# bytes: TCP resets it (RST); through the preload that connection's ring
# was never attached, and libivt's -ECONNREFUSED (queued through ivtd, or
# over a direct line with IVT_LINES=1, docs/conn-setup.md) is shown as
# the same reset: poll, then recv, SO_ERROR, recv again. Run over TCP and
# through the preload, the outputs must be the same. PORT.
import errno, select, signal, socket, sys

signal.alarm(120)
port = int(sys.argv[1])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)

POLL = ("POLLIN", "POLLOUT", "POLLRDHUP", "POLLHUP", "POLLERR")
names = lambda m: "|".join(n for n in POLL if m & getattr(select, n))


def call(what, fn):
    try:
        out = repr(fn())
    except OSError as e:
        out = errno.errorcode.get(e.errno, str(e.errno))
    print("%s: %s" % (what, out))


c1 = socket.create_connection(("127.0.0.1", port))
s1, _ = ls.accept()
c1.sendall(b"one")
print("accepted:", s1.recv(3))
c1.close()
s1.close()

c2 = socket.create_connection(("127.0.0.1", port))
c2.sendall(b"queued")
ls.close()
p = select.poll()
p.register(c2, select.POLLIN | select.POLLRDHUP)
ev = p.poll(30000)
print("poll:", names(ev[0][1] if ev else 0))
call("recv", lambda: c2.recv(10))
call("SO_ERROR after", lambda: c2.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
call("recv after", lambda: c2.recv(10))
c2.close()
print("done")

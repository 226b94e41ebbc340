# Half-close (shutdown SHUT_WR) as TCP does it: the client sends a
# request, shuts its write side down and reads the reply; the server
# reads to the end of stream, then replies and closes (HTTP/1.0, nc -N,
# rsync). Run over TCP and through the preload, the outputs must be the
# same.
#   half_close.py pair PORT NBYTES   both ends (forked), with the
#                                    readiness each sees on the way
#   half_close.py server PORT        serves one client (nc -N, socat)
#   half_close.py shut PORT          readiness after the application's
#                                    own SHUT_RD, SHUT_WR and SHUT_RDWR
import hashlib, os, select, socket, sys

POLL = ("POLLIN", "POLLOUT", "POLLRDHUP", "POLLHUP", "POLLERR")
names = lambda m: "|".join(n for n in POLL if m & getattr(select, n)) or "-"


def now(s):
    p = select.poll()
    p.register(s, select.POLLIN | select.POLLOUT | select.POLLRDHUP)
    ev = p.poll(0)
    return names(ev[0][1] if ev else 0)


def pattern(n, seed):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d-%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


def read_to_end(s):
    parts = []
    while True:
        b = s.recv(65536)
        if not b:
            return b"".join(parts)
        parts.append(b)


def listener(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    return ls


def serve(s, out, shut_r=None):
    req = read_to_end(s)
    out.append("server read %d bytes, sha256 %s" % (len(req), hashlib.sha256(req).hexdigest()[:16]))
    out.append("server poll at the end of stream: " + now(s))
    out.append("server recv again: %r" % s.recv(10))
    if shut_r is not None:
        os.read(shut_r, 1)  # the client looked at its readiness first
    reply = b"reply to %d bytes\n" % len(req) + pattern(3 * len(req) // 2 + 1, 2)
    s.sendall(reply)
    s.close()


if sys.argv[1] == "server":
    ls = listener(int(sys.argv[2]))
    s, _ = ls.accept()
    out = []
    serve(s, out)
    sys.stderr.write("\n".join(out) + "\n")
    sys.exit(0)

if sys.argv[1] == "shut":
    # the application's own shutdowns, before the peer did anything
    ls = listener(int(sys.argv[2]))
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    s, _ = ls.accept()
    c.shutdown(socket.SHUT_RD)
    print("after SHUT_RD:", now(c), "recv:", c.recv(10))
    c.shutdown(socket.SHUT_WR)
    print("after SHUT_WR too:", now(c))
    select.select([s], [], [], 10)  # the end travels to it (ivt: the monitor thread)
    print("its peer:", now(s), "recv:", s.recv(10))
    s.shutdown(socket.SHUT_RDWR)
    print("its peer after SHUT_RDWR:", now(s))
    sys.exit(0)

port, nbytes = int(sys.argv[2]), int(sys.argv[3])
ls = listener(port)
r, w = os.pipe()
if os.fork() == 0:
    ls.close()
    os.close(r)
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(pattern(nbytes, 1))
    c.shutdown(socket.SHUT_WR)
    out = ["client poll after SHUT_WR: " + now(c)]
    try:
        c.send(b"late")
        out.append("client send after SHUT_WR: sent")
    except BrokenPipeError:
        out.append("client send after SHUT_WR: EPIPE")
    os.write(w, b"x")
    reply = read_to_end(c)
    want = b"reply to %d bytes\n" % nbytes + pattern(3 * nbytes // 2 + 1, 2)
    out.append("client read the reply: %d bytes, %s" % (len(reply), "exact" if reply == want else "WRONG"))
    out.append("client poll at the end: " + now(c))
    c.close()
    print("\n".join(out), flush=True)
    os._exit(0)
os.close(w)
s, _ = ls.accept()
out = []
serve(s, out, r)
os.wait()
print("\n".join(out))

# A peer killed while our bytes sit unread in its socket: TCP answers with
# a reset (issue 12: through the preload poll showed no POLLERR). PORT.
# Prints what poll, epoll and the calls after it say, for three ways of
# first meeting the reset (recv, getsockopt(SO_ERROR), send); run over TCP
# and through the preload, the outputs must be the same.
import errno, os, select, signal, socket, sys

signal.alarm(120)
port = int(sys.argv[1])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)

POLL = ("POLLIN", "POLLOUT", "POLLRDHUP", "POLLHUP", "POLLERR")
EPOLL = ("EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLHUP", "EPOLLERR")
names = lambda m, ns: "|".join(n for n in ns if m & getattr(select, n))
ALL = select.POLLIN | select.POLLOUT | select.POLLRDHUP


def call(what, fn):
    try:
        out = repr(fn())
    except OSError as e:
        out = errno.errorcode.get(e.errno, str(e.errno))
    print("  %s: %s" % (what, out))


def poll_now(s):
    p = select.poll()
    p.register(s, ALL)
    ev = p.poll(0)
    return names(ev[0][1] if ev else 0, POLL)


for first in ("recv", "SO_ERROR", "send"):
    print(first + " first:")
    ready_r, ready_w = os.pipe()
    never_r, never_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ls.close()
        c = socket.create_connection(("127.0.0.1", port))
        os.write(ready_w, b"r")
        os.read(never_r, 1)  # killed first, having read nothing
        os._exit(1)
    s, _ = ls.accept()
    os.read(ready_r, 1)
    s.sendall(b"unread" * 100)
    # an event loop sleeps in epoll_wait (edge-triggered in one round)
    # when the reset comes
    ep = select.epoll()
    et = select.EPOLLET if first == "SO_ERROR" else 0
    ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP | et)
    assert ep.poll(0) == []
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    ev = ep.poll(30)
    print("  epoll_wait%s:" % (" (edge)" if et else ""), names(ev[0][1] if ev else 0, EPOLL))
    ep.close()
    print("  poll:", poll_now(s))
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP)
    ev = ep.poll(0)
    print("  epoll:", names(ev[0][1] if ev else 0, EPOLL))
    ep.close()
    if first == "recv":
        call("recv", lambda: s.recv(10))
    elif first == "SO_ERROR":
        call("SO_ERROR", lambda: errno.errorcode.get(
            s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0))
    else:
        call("send", lambda: s.send(b"more"))
    print("  poll after:", poll_now(s))
    call("SO_ERROR after", lambda: s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    call("recv after", lambda: s.recv(10))
    call("send after", lambda: s.send(b"more"))
    s.close()
    for fd in (ready_r, ready_w, never_r, never_w):
        os.close(fd)
print("done")

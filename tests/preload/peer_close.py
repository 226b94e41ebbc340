# Readiness after the peer closed, as poll and epoll report it (issue 12:
# the preload's fd said only POLLIN, never POLLRDHUP/POLLHUP). PORT.
# Prints what poll and epoll say; run over TCP and through the preload,
# the outputs must be the same.
import os, select, socket, sys

port = int(sys.argv[1])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)
if os.fork() == 0:
    ls.close()
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"x")
    c.close()
    os._exit(0)
s, _ = ls.accept()
assert s.recv(1) == b"x"
os.wait()  # its close is done

POLL = ("POLLIN", "POLLOUT", "POLLRDHUP", "POLLHUP", "POLLERR")
EPOLL = ("EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLHUP", "EPOLLERR")
names = lambda m, ns: "|".join(n for n in ns if m & getattr(select, n))

ep = select.epoll()
ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
ev = ep.poll(30)
print("epoll after peer close:", names(ev[0][1] if ev else 0, EPOLL))
p = select.poll()
p.register(s, select.POLLIN | select.POLLOUT | select.POLLRDHUP)
print("poll after peer close:", names(p.poll(30000)[0][1], POLL))
print("recv:", s.recv(10))
s.shutdown(socket.SHUT_WR)
print("poll after shutdown(SHUT_WR):", names(p.poll(30000)[0][1], POLL))

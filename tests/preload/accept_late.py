# A server that accepts only once its client's connects have returned
# (issue 12: connect waited for the accept, up to 10 s, then fell back to
# TCP). server PORT GO: listen, wait for the file GO, accept two
# connections and send each "hi". client PORT GO: a non-blocking and a
# blocking connect, both before any accept; create GO; read both.
import os, select, socket, sys, time

role, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if role == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    for _ in range(1200):
        if os.path.exists(go):
            break
        time.sleep(0.05)
    for _ in range(2):
        c, _ = ls.accept()
        c.sendall(b"hi")
        c.close()
    sys.exit(0)

s = socket.socket()
s.setblocking(False)
try:
    s.connect(("127.0.0.1", port))
except BlockingIOError:
    pass
select.select([], [s], [], 60)
err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
s2 = socket.create_connection(("127.0.0.1", port), timeout=60)
print("connected, SO_ERROR", err, flush=True)
open(go, "w").close()
s.setblocking(True)
s.settimeout(60)
got = s.recv(10), s2.recv(10)
print("ok" if got == (b"hi", b"hi") and err == 0 else "bad %r" % (got,), flush=True)

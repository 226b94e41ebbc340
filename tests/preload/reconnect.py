# A second connect() on a socket whose first one went to the kernel, as
# hiredis (redis-cli) does to learn that a non-blocking connect finished.
# The listener runs without the preload, so the connection is TCP's. PORT.
# Prints what each call said; run over TCP and through the preload, the
# outputs must be the same (the preload once took the second connect for a
# new one and asked ivtd again).
import errno, os, select, socket, subprocess, sys

port = int(sys.argv[1])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
srv = subprocess.Popen([sys.executable, "-c", """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", %d)); s.listen(1); print("up", flush=True)
c, _ = s.accept(); c.sendall(c.recv(10))
""" % port], env=env, stdout=subprocess.PIPE, text=True)
srv.stdout.readline()
c = socket.socket()
c.setblocking(False)
first = c.connect_ex(("127.0.0.1", port))
print("first connect:", errno.errorcode.get(first, first))
select.select([], [c], [], 10)
second = c.connect_ex(("127.0.0.1", port))
print("second connect:", errno.errorcode.get(second, second) if second else 0)
c.setblocking(True)
c.sendall(b"ping")
print("echo:", c.recv(10))
srv.wait()

# Signals during blocking calls, as python programs meet them (issue 12: the
# preload restarted its waits after any signal, so a python handler, and
# Ctrl-C, never ran while a server sat in accept() or recv()). PORT. Prints
# what each call did; run over TCP and through the preload, the outputs must
# be the same.
import os, signal, socket, sys, time

signal.alarm(120)  # a call that never returns fails here, not at ctest's limit
port = int(sys.argv[1])


class Interrupted(Exception):
    pass


def raising(signum, frame):
    raise Interrupted()


calls = 0


def counting(signum, frame):
    global calls
    calls += 1


def after(sec, handler):
    signal.signal(signal.SIGUSR1, handler)
    if os.fork() == 0:
        time.sleep(sec)
        os.kill(os.getppid(), signal.SIGUSR1)
        os._exit(0)


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)

# 1. a handler that raises ends a blocking accept()
after(0.3, raising)
try:
    ls.accept()
    print("accept: returned")
except Interrupted:
    print("accept: handler ran")
os.wait()

go_r, go_w = os.pipe()
if os.fork() == 0:
    # the peer: connects, then sends "late" when told, then closes
    ls.close()
    c = socket.create_connection(("127.0.0.1", port))
    os.read(go_r, 1)
    c.sendall(b"late")
    os.read(go_r, 1)
    c.close()
    os._exit(0)
s, _ = ls.accept()

# 2. a handler that raises ends a blocking recv()
after(0.3, raising)
try:
    s.recv(10)
    print("recv: returned")
except Interrupted:
    print("recv: handler ran")
os.wait()

# 3. a handler that returns: python retries the call (PEP 475), which then
#    gets the bytes that came after the signal
after(0.3, counting)
if os.fork() == 0:
    time.sleep(0.8)
    os.write(go_w, b"x")
    os._exit(0)
print("recv after a returning handler: %r, handler ran %d time(s)" % (s.recv(10), calls))
os.wait()
os.wait()
os.write(go_w, b"x")
print("recv at the end: %r" % s.recv(10))
os.wait()

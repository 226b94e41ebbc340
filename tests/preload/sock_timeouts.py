# SO_RCVTIMEO / SO_SNDTIMEO on a connected stream, as python programs set
# them (issue 12: the preload took them and ignored them). PORT. Prints
# what each call did; run over TCP and through the preload, the outputs
# must be the same. Times are only checked from below (a timeout that
# returned early), never from above.
import errno, os, signal, socket, struct, sys, time

signal.alarm(120)  # a timeout that never fires fails here, not at ctest's limit
port = int(sys.argv[1])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)
go_r, go_w = os.pipe()
if os.fork() == 0:
    # the peer: reads nothing until told, then everything, then closes
    ls.close()
    c = socket.create_connection(("127.0.0.1", port))
    os.read(go_r, 1)
    c.sendall(b"hello")
    os.read(go_r, 1)
    while c.recv(1 << 20):
        pass
    c.close()
    os._exit(0)
s, _ = ls.accept()
TV = struct.pack("ll", 0, 200000)  # 200 ms


def timed(what, fn):
    t0 = time.monotonic()
    try:
        r = fn()
        out = "returned %r" % (r,)
    except socket.timeout:
        out = "socket.timeout"
    except OSError as e:
        out = errno.errorcode.get(e.errno, str(e.errno))
    waited = time.monotonic() - t0 >= 0.15
    print("%s: %s%s" % (what, out, " (waited)" if waited else ""))


# python's own timeout: non-blocking socket + poll
s.settimeout(0.2)
timed("settimeout recv", lambda: s.recv(10))
# the kernel's: a blocking socket whose recv gives up after SO_RCVTIMEO
s.settimeout(None)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, TV)
print("SO_RCVTIMEO reads back:", struct.unpack("ll", s.getsockopt(socket.SOL_SOCKET,
                                                                  socket.SO_RCVTIMEO, 16)))
timed("SO_RCVTIMEO recv", lambda: s.recv(10))
timed("SO_RCVTIMEO recv MSG_WAITALL", lambda: s.recv(10, socket.MSG_WAITALL))
os.write(go_w, b"g")
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 30, 0))  # load
print("SO_RCVTIMEO recv with data:", s.recv(10))
# a listener's SO_RCVTIMEO bounds accept
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, TV)
timed("SO_RCVTIMEO accept", lambda: ls.accept())

# sending to a peer that does not read: the buffers fill, then send gives up
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, TV)
print("SO_SNDTIMEO reads back:", struct.unpack("ll", s.getsockopt(socket.SOL_SOCKET,
                                                                  socket.SO_SNDTIMEO, 16)))
chunk = b"x" * 65536
sent, result = 0, None
while sent < (256 << 20):
    try:
        n = s.send(chunk)
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e.errno))
        break
    sent += n
print("SO_SNDTIMEO send until full:", result)
timed("SO_SNDTIMEO send when full", lambda: s.send(chunk))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 0))
s.settimeout(0.2)
timed("settimeout send when full", lambda: s.sendall(chunk))
s.settimeout(None)
os.write(go_w, b"g")
s.sendall(chunk)  # the peer reads again: no timeout without a limit
s.close()
os.wait()
print("done")

# Clients that close and leave with os._exit (multiprocessing's children
# do), skipping every exit-time destructor: the server must read all
# bytes and then a clean end of stream, never a reset (issue 12: close
# left the channel's end to a thread the _exit killed). PORT N SIZE.
import os, socket, sys

port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(64)
res = {"ok": 0, "reset": 0, "short": 0}
for i in range(n):
    if os.fork() == 0:
        ls.close()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"x" * size)
        s.close()
        os._exit(0)
    c, _ = ls.accept()
    got = 0
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
        res["ok" if got == size else "short"] += 1
    except ConnectionResetError:
        res["reset"] += 1
    c.close()
    os.wait()
print(res, flush=True)
sys.exit(0 if res["ok"] == n else 1)

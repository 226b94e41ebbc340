# A client exits with N connections whose server reads nothing, each with
# bytes that no longer fit (issue 12: the exit-time close waited 10 s per
# connection, one after the other). server PORT N: accept N, hold them.
# client PORT N: fill each until nothing more goes, then exit.
import os, socket, sys, time

role, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if role == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    held = [ls.accept()[0] for _ in range(n)]
    time.sleep(3600)

def fill(c):
    """Sends until a round after a pause moves nothing: the peer's side
    holds all it will take (it may read ahead a little)."""
    total = 0
    while True:
        moved = 0
        try:
            while True:
                moved += c.send(b"x" * 65536)
        except BlockingIOError:
            pass
        total += moved
        if moved == 0 and total > 0:
            return total
        time.sleep(0.2)

cs = []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    c.setblocking(False)
    cs.append(c)
print("filled", [fill(c) for c in cs], flush=True)

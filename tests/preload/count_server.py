"""Accept N connections one at a time; after a pause (the client has
exited by then) read each to its end and print how it ended:
'got BYTES then end' or 'got BYTES then reset'. For preload-programs.sh."""
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen()
for _ in range(n):
    c, _ = s.accept()
    time.sleep(0.3)
    got, how = 0, "end"
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
    except ConnectionResetError:
        how = "reset"
    print("got", got, "then", how, flush=True)
    c.close()

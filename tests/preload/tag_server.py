"""Listen on ADDRESS:PORT (IPv6 with a ':' in it; v6only: IPV6_V6ONLY) and
answer every connection with TAG, the address it was accepted on
(getsockname) and the peer's (getpeername), then close. For
preload-addrs.sh: which of several servers on one port a client reached.
Usage: tag_server.py ADDRESS PORT TAG [v6only]"""
import socket
import sys

addr, port, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if sys.argv[4:] == ["v6only"] else 0)
s.bind((addr, port))
s.listen()
while True:
    c, peer = s.accept()
    c.sendall(f"{tag} {c.getsockname()[0]} {peer[0]}\n".encode())
    c.close()

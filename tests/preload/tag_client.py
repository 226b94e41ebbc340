"""Connect to ADDRESS:PORT and print what the server said, or
'refused'. For preload-addrs.sh."""
import socket
import sys

addr, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
try:
    s.connect((addr, port))
except ConnectionRefusedError:
    print("refused")
    sys.exit(0)
got = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    got += d
print(got.decode().strip())

# SPDX-License-Identifier: MIT
"""A private ivtd for the tests: from $IVT_BIN_DIR (ctest sets it) or the
build tree, with a policy for channels py-* and the utmem store."""
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

POLICY = {
    "version": 1,
    "utmem": {"capacity_bytes": 16 << 20, "max_value_bytes": 65536},
    "channels": [
        {"name": "ivt.utmem", "listeners": [], "connectors": ["uid:*"], "backend": "shm",
         "quota_bytes": 1 << 20},
        {"name": "py-*", "listeners": ["*"], "connectors": ["*"], "backend": "shm",
         "ring_size": 65536, "max_ring_size": 1 << 20},
        {"name": "nobody-*", "listeners": [], "connectors": []},
    ],
}


def start_ivtd(policy):
    """A private ivtd with this policy: (process, control socket path)."""
    bin_dir = os.environ.get("IVT_BIN_DIR") or os.path.join(HERE, "../../build/bin")
    d = tempfile.mkdtemp(prefix="ivt-py-")
    sock = os.path.join(d, "ivtd.sock")
    pol = os.path.join(d, "policy.json")
    with open(pol, "w") as f:
        json.dump(policy, f)
    proc = subprocess.Popen([os.path.join(bin_dir, "ivtd"), "-c", pol, "-s", sock, "-r",
                             "local", "-q"])
    for _ in range(200):
        if os.path.exists(sock):
            return proc, sock
        time.sleep(0.05)
    proc.kill()
    pytest.fail("ivtd did not start")


@pytest.fixture(scope="session")
def ivtd():
    proc, sock = start_ivtd(POLICY)
    os.environ["IVT_SOCKET"] = sock
    yield sock
    proc.terminate()
    proc.wait()

# SPDX-License-Identifier: MIT
"""The Python bindings against a real ivtd (conftest.py) and libivt.so."""
import asyncio
import errno
import os
import selectors
import threading

import pytest

import ivt


def pair(name, **kw):
    """A listener that does not wait for its peer, then its connector."""
    lis = ivt.Channel.open(name, listen=True, timeout_ms=0, **kw)
    con = ivt.Channel.open(name, **{k: v for k, v in kw.items() if k != "message"})
    return lis, con


def test_stream_send_recv_and_end(ivtd):
    lis, con = pair("py-stream")
    with lis, con:
        assert con.backend == "shm"
        data = os.urandom(300000)  # more than the ring: the reader drains meanwhile
        got = bytearray()
        con.set_nonblock(True)
        view = memoryview(data)
        while view or len(got) < len(data):
            if view:
                try:
                    view = view[con.send(view):]
                except BlockingIOError:
                    pass
            got += lis.recv(65536) if len(got) < len(data) else b""
        assert bytes(got) == data
        con.set_nonblock(False)
        assert con.sendv([b"ab", bytearray(b"cd"), memoryview(b"ef")]) == 6
        assert lis.recv(6) == b"abcdef"
        con.close()
        assert lis.recv(10) == b""  # end of stream
        assert lis.stats()["bytes_received"] == len(data) + 6


def test_shutdown_then_answer(ivtd):
    """A request, shutdown(SHUT_WR), the answer: as a socket."""
    lis, con = pair("py-halfclose")
    with lis, con:
        con.sendall(b"question")
        con.shutdown(ivt.SHUT_WR)
        with pytest.raises(BrokenPipeError):
            con.send(b"more")
        got = bytearray()
        while True:
            b = lis.recv(100)
            if not b:
                break
            got += b
        assert bytes(got) == b"question"
        lis.sendall(b"answer")
        lis.close()
        assert con.recv(100) == b"answer"
        assert con.recv(100) == b""


def test_message_mode(ivtd):
    lis, con = pair("py-msg", message=True)
    with lis, con:
        con.sendv([b"hello ", b"world"])  # one message
        big = os.urandom(200000)  # larger than the 64 KiB ring: sent while we read
        t = threading.Thread(target=con.send, args=(big,))
        t.start()
        assert lis.next_msg_size() == 11
        with pytest.raises(OSError) as e:
            lis.recv(5)
        assert e.value.errno == errno.EMSGSIZE
        assert lis.recv() == b"hello world"
        assert lis.recv(1 << 20) == big
        t.join()


def test_errors_are_oserror_with_reason(ivtd):
    with pytest.raises(OSError) as e:
        ivt.Channel.open("nobody-here", listen=True, timeout_ms=0)
    assert e.value.errno == errno.EACCES
    assert "nobody-" in e.value.strerror or "rule" in e.value.strerror
    with pytest.raises(TimeoutError):
        lis = ivt.Channel.open("py-timeout", listen=True, timeout_ms=0)
        con = ivt.Channel.open("py-timeout")
        with lis, con:
            lis.set_timeouts(recv_ms=50)
            lis.recv(1)
    with pytest.raises(ValueError):
        c = ivt.Channel.open("py-closed", listen=True, timeout_ms=0)
        c.close()
        c.fileno()


def test_selectors_and_fileno(ivtd):
    lis, con = pair("py-sel", nonblock=True)
    with lis, con, selectors.DefaultSelector() as sel:
        sel.register(lis, selectors.EVENT_READ)
        with pytest.raises(BlockingIOError):
            lis.recv(10)
        con.send(b"ping")
        got = b""
        while not got:
            assert sel.select(timeout=10)
            try:
                got = lis.recv(10)
            except BlockingIOError:
                pass
        assert got == b"ping"


def test_asyncio_reader(ivtd):
    lis, con = pair("py-async", nonblock=True)

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def readable():
            try:
                data = lis.recv(100)
            except BlockingIOError:
                return
            loop.remove_reader(lis.fileno())
            fut.set_result(data)

        loop.add_reader(lis.fileno(), readable)
        con.send(b"from asyncio")
        return await asyncio.wait_for(fut, 10)

    with lis, con:
        assert asyncio.run(main()) == b"from asyncio"


def test_listen_accept(ivtd):
    with ivt.Listener.open("py-many") as l:
        accepted = []
        t = threading.Thread(target=lambda: accepted.extend([l.accept(), l.accept()]))
        t.start()  # a connector returns once accepted
        a = ivt.Channel.open("py-many")
        b = ivt.Channel.open("py-many")
        t.join()
        sa, sb = accepted
        with a, b, sa, sb:
            a.send(b"A")
            b.send(b"B")
            assert {sa.recv(1), sb.recv(1)} == {b"A", b"B"}
            assert sa.peer_identity.startswith("uid:")


def test_selectors_server_many_clients(ivtd):
    """A selectors echo server over a non-blocking Listener and 20 clients;
    recv() without a size on byte-stream channels (it raised EINVAL)."""
    n = 20
    errors = []

    def client(i):
        try:
            with ivt.Channel.open("py-echo") as ch:
                ch.sendall(b"hi %d" % i)
                assert ch.recv(100) == b"HI %d" % i
        except Exception as e:  # reported by the main thread
            errors.append(e)

    with ivt.Listener.open("py-echo", nonblock=True) as lis, \
            selectors.DefaultSelector() as sel:
        sel.register(lis, selectors.EVENT_READ)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        done = 0
        while done < n:
            events = sel.select(timeout=30)
            assert events, "nothing happened for 30 s"
            for key, _ev in events:
                if key.fileobj is lis:
                    try:
                        c = lis.accept()
                    except BlockingIOError:
                        continue
                    c.set_nonblock()
                    sel.register(c, selectors.EVENT_READ)
                    continue
                c = key.fileobj
                try:
                    data = c.recv()
                except BlockingIOError:
                    continue
                if data:
                    c.sendall(data.upper())
                else:
                    sel.unregister(c)
                    c.close()
                    done += 1
        for t in threads:
            t.join()
    assert not errors


def test_next_msg_size_on_stream_names_it(ivtd):
    lis, con = pair("py-nms")
    with lis, con:
        with pytest.raises(OSError) as e:
            con.next_msg_size()
        assert e.value.errno == errno.EINVAL
        assert "byte stream" in e.value.strerror


def test_store(ivtd):
    with ivt.Store.open() as st:
        pool = st.pool_create()
        st.put(pool, 7, 0, b"value")
        assert st.get(pool, 7, 0) == b"value"  # private ephemeral: taken
        assert st.get(pool, 7, 0) is None  # a miss is not an error
        st.put(pool, 8, 1, bytearray(b"x" * 1000))
        assert st.invalidate(pool, 8, 1) is True
        assert st.invalidate(pool, 8, 1) is False
        with pytest.raises(OSError) as e:
            st.put(12345, 1, 1, b"v")
        assert e.value.errno == errno.EBADF
        assert "no such pool" in e.value.strerror
        assert st.stats()["puts"] >= 2


def test_recv_into_checks_nbytes(ivtd):
    lis, con = pair("py-into")
    with lis, con:
        con.send(b"x" * 1000)
        buf = bytearray(10)
        with pytest.raises(ValueError):
            lis.recv_into(buf, 60000)  # once wrote past the buffer (SIGSEGV)
        with pytest.raises(ValueError):
            lis.recv_into(buf, -1)
        assert lis.recv_into(buf, 4) == 4
        assert lis.recv_into(buf) == 10
        assert bytes(buf) == b"x" * 10


def test_store_keys_do_not_wrap(ivtd):
    with ivt.Store.open() as st:
        pool = st.pool_create(persistent=True)
        st.put(pool, 1, 0, b"index-zero")
        for bad in ((pool, 1, 1 << 32), (pool, 1 << 64, 0), (pool, -1, 0), (1 << 32, 1, 0)):
            with pytest.raises(OverflowError):
                st.put(*bad, b"wrapped")  # ctypes once wrapped it onto another key
            with pytest.raises(OverflowError):
                st.get(*bad)
        with pytest.raises(TypeError):
            st.get(pool, "1", 0)
        assert st.get(pool, 1, 0) == b"index-zero"
        big = os.urandom(200000)  # beyond the first try's buffer
        if st.max_value >= len(big):
            st.put(pool, 2, 0, big)
            assert st.get(pool, 2, 0) == big
        assert st.invalidate(pool, 1) is True



def test_store_open_error_reads_as_open(ivtd):
    # ivt_store_open's errors are ivt_open's: a policy without an ivt.utmem
    # rule read "no such value in the store (a miss ...)"
    from conftest import start_ivtd
    proc, sock = start_ivtd({"version": 1, "channels": []})
    try:
        with pytest.raises(OSError) as e:
            ivt.Store.open(socket_path=sock)
        assert "in the store" not in e.value.strerror, e.value.strerror
        assert "ivt.utmem" in e.value.strerror
    finally:
        proc.terminate()
        proc.wait()

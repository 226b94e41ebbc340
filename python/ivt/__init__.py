# SPDX-License-Identifier: MIT
"""Python bindings for libivt (include/ivt/ivt.h), through ctypes.

No compiled extension: the module loads libivt.so at import time, from
$IVT_LIB if set, else the build tree next to this package (build/lib),
else the system's (ldconfig: libivt.so.1).

    import ivt
    with ivt.Channel.open("demo", listen=True) as ch:
        data = ch.recv(65536)          # b"" at end of stream

Errors raise OSError (or the subclass Python picks for the errno:
ConnectionResetError, BlockingIOError, TimeoutError, ...) whose errno is
ivt's and whose strerror is ivt_strerror's text, including the reason
ivtd gave (e.g. which policy rule refused).
"""
import ctypes
import ctypes.util
import errno
import os

__all__ = ["Channel", "Listener", "Store", "lib", "LISTEN", "NONBLOCK", "MESSAGE",
           "MSG_MAX", "STORE_CHANNEL"]

LISTEN = 1 << 0
NONBLOCK = 1 << 1
MESSAGE = 1 << 2
# Channel.shutdown's how: socket.SHUT_RD / SHUT_WR / SHUT_RDWR's values
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
MSG_MAX = 1 << 30
STORE_CHANNEL = "ivt.utmem"
POOL_PERSISTENT = 1 << 0
POOL_SHARED = 1 << 1
GET_TAKE = 1 << 0
UUID_LEN = 16


def _find_library():
    env = os.environ.get("IVT_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("../../build/lib/libivt.so.1", "../../build/lib/libivt.so"):
        p = os.path.normpath(os.path.join(here, rel))
        if os.path.exists(p):
            return p
    return ctypes.util.find_library("ivt") or "libivt.so.1"


lib = ctypes.CDLL(_find_library(), use_errno=False)

_c = ctypes
_ssize_t = _c.c_ssize_t
_vp = _c.c_void_p


class _OpenOpts(_c.Structure):
    _fields_ = [("struct_size", _c.c_size_t), ("backend", _c.c_char_p),
                ("ring_size", _c.c_size_t), ("timeout_ms", _c.c_int),
                ("socket_path", _c.c_char_p), ("flags", _c.c_uint)]


class _Stats(_c.Structure):
    _fields_ = [(n, _c.c_uint64) for n in (
        "bytes_sent", "bytes_received", "sends", "recvs", "notifies_sent", "waits",
        "ring_size", "protocol_errors")]


class _StoreStats(_c.Structure):
    _fields_ = [(n, _c.c_uint64) for n in (
        "quota", "used", "pages", "pools", "puts", "puts_refused", "gets", "get_hits",
        "evicted")]


class _IoVec(_c.Structure):
    _fields_ = [("iov_base", _vp), ("iov_len", _c.c_size_t)]


def _fn(name, restype, *argtypes, optional=False):
    f = getattr(lib, name, None)
    if f is None:
        if optional:
            return None
        raise ImportError("libivt has no %s: too old" % name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_open = _fn("ivt_open", _c.c_int, _c.c_char_p, _c.c_uint, _c.POINTER(_OpenOpts), _c.POINTER(_vp))
_close = _fn("ivt_close", _c.c_int, _vp)
_send = _fn("ivt_send", _ssize_t, _vp, _vp, _c.c_size_t)
_sendv = _fn("ivt_sendv", _ssize_t, _vp, _c.POINTER(_IoVec), _c.c_int)
_recv = _fn("ivt_recv", _ssize_t, _vp, _vp, _c.c_size_t)
_next_msg_size = _fn("ivt_next_msg_size", _ssize_t, _vp)
_fd = _fn("ivt_fd", _c.c_int, _vp)
_set_nonblock = _fn("ivt_set_nonblock", _c.c_int, _vp, _c.c_int)
_set_timeouts = _fn("ivt_set_timeouts", _c.c_int, _vp, _c.c_int, _c.c_int)
_get_stats = _fn("ivt_get_stats", _c.c_int, _vp, _c.POINTER(_Stats))
_backend_name = _fn("ivt_backend_name", _c.c_char_p, _vp)
_strerror = _fn("ivt_strerror", _c.c_char_p, _c.c_int)
_store_strerror = _fn("ivt_store_strerror", _c.c_char_p, _c.c_int)
_peer_identity = _fn("ivt_peer_identity", _c.c_char_p, _vp, optional=True)
_shutdown = _fn("ivt_shutdown", _c.c_int, _vp, _c.c_int, optional=True)
_listen = _fn("ivt_listen", _c.c_int, _c.c_char_p, _c.POINTER(_OpenOpts), _c.POINTER(_vp),
              optional=True)
_accept = _fn("ivt_accept", _c.c_int, _vp, _c.POINTER(_vp), optional=True)
_listener_fd = _fn("ivt_listener_fd", _c.c_int, _vp, optional=True)
_listener_close = _fn("ivt_listener_close", _c.c_int, _vp, optional=True)
_listener_set_nonblock = _fn("ivt_listener_set_nonblock", _c.c_int, _vp, _c.c_int,
                             optional=True)
_store_open = _fn("ivt_store_open", _c.c_int, _c.POINTER(_OpenOpts), _c.POINTER(_vp))
_store_close = _fn("ivt_store_close", _c.c_int, _vp)
_pool_create = _fn("ivt_pool_create", _c.c_int, _vp, _c.c_uint, _c.c_char_p,
                   _c.POINTER(_c.c_uint32))
_pool_destroy = _fn("ivt_pool_destroy", _c.c_int, _vp, _c.c_uint32)
_put = _fn("ivt_put", _c.c_int, _vp, _c.c_uint32, _c.c_uint64, _c.c_uint32, _vp, _c.c_size_t)
_get = _fn("ivt_get", _ssize_t, _vp, _c.c_uint32, _c.c_uint64, _c.c_uint32, _vp, _c.c_size_t,
           _c.c_uint)
_invalidate = _fn("ivt_invalidate", _c.c_int, _vp, _c.c_uint32, _c.c_uint64, _c.c_uint32)
_invalidate_object = _fn("ivt_invalidate_object", _c.c_int, _vp, _c.c_uint32, _c.c_uint64)
_store_stats = _fn("ivt_store_stats", _c.c_int, _vp, _c.POINTER(_StoreStats))
_store_max_value = _fn("ivt_store_max_value", _c.c_size_t, _vp)


def _uint(value, bits, what):
    """value as an unsigned C integer of `bits`: ctypes would wrap it."""
    if not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__))
    if not 0 <= value < (1 << bits):
        raise OverflowError("%s %d out of range (0 .. 2**%d - 1)" % (what, value, bits))
    return value


def _key(pool, oid, index):
    """A store key, checked: pool and index are 32 bits, oid 64."""
    return _uint(pool, 32, "pool"), _uint(oid, 64, "oid"), _uint(index, 32, "index")


def _error(rc, store=False):
    """OSError for a negative return value; ivt's text as strerror."""
    text = (_store_strerror if store else _strerror)(rc).decode(errors="replace")
    return OSError(-rc, text)  # Python picks the subclass for the errno


def _check(rc, store=False):
    if rc < 0:
        raise _error(rc, store)
    return rc


def _opts(backend=None, ring_size=0, timeout_ms=None, socket_path=None, flags=0,
          default_timeout=10000):
    o = _OpenOpts()
    o.struct_size = _c.sizeof(_OpenOpts)
    o.backend = backend.encode() if backend else None
    o.ring_size = ring_size
    o.timeout_ms = default_timeout if timeout_ms is None else timeout_ms
    o.socket_path = os.fsencode(socket_path) if socket_path else None
    o.flags = flags
    return o


def _buf(data):
    """A C pointer to bytes-like data (no copy for writable buffers)."""
    if isinstance(data, bytes):
        return _c.c_char_p(data), len(data), data  # no copy: points into the bytes
    mv = memoryview(data).cast("B")
    if mv.readonly:
        b = bytes(mv)
        return _c.c_char_p(b), len(b), b
    arr = (_c.c_char * len(mv)).from_buffer(mv)
    return arr, len(mv), arr


class _Handle:
    """A libivt handle closed once: by close(), the with block, or GC."""
    _close_fn = None
    _store = False

    def __init__(self, handle):
        self._h = _vp(handle)

    def _handle(self):
        if not self._h:
            raise ValueError("%s is closed" % type(self).__name__.lower())
        return self._h

    def close(self):
        if self._h:
            h, self._h = self._h, None
            _check(type(self)._close_fn(h), self._store)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_h", None):
            type(self)._close_fn(self._h)
            self._h = None


class Channel(_Handle):
    """An ivt channel end (ivt_open). Blocking unless nonblock=True.

    Stream mode: send() returns bytes taken, recv(n) up to n bytes, b"" at
    end of stream. Message mode (the listener passed message=True): every
    send() is one message, recv() returns exactly one whole message.
    """

    _close_fn = _close

    @classmethod
    def open(cls, name, listen=False, nonblock=False, message=False, backend=None,
             ring_size=0, timeout_ms=None, socket_path=None):
        """ivt_open. timeout_ms None: libivt's default (connector 10 s,
        listener waits for its peer without limit); -1 forever; 0: a
        listener does not wait for its peer."""
        flags = (LISTEN if listen else 0) | (NONBLOCK if nonblock else 0) | \
                (MESSAGE if message else 0)
        o = _opts(backend, ring_size, timeout_ms, socket_path,
                  default_timeout=-1 if listen else 10000)
        h = _vp()
        _check(_open(name.encode(), flags, _c.byref(o), _c.byref(h)))
        return cls(h.value)

    def fileno(self):
        """ivt_fd: readable when send/recv may progress (selectors, asyncio)."""
        return _check(_fd(self._handle()))

    def send(self, data):
        p, n, _keep = _buf(data)
        return _check(_send(self._handle(), _c.cast(p, _vp), n))

    def shutdown(self, how):
        """ivt_shutdown, as socket.shutdown: SHUT_WR ends what we send (the
        peer reads b"" after it, and may still answer), SHUT_RD our own
        receives. OSError EOPNOTSUPP where the other end or ivtd is older
        than half-close."""
        if _shutdown is None:
            raise OSError(errno.EOPNOTSUPP, "libivt has no ivt_shutdown: too old")
        _check(_shutdown(self._handle(), how))

    def sendall(self, data):
        """Blocking channels already send everything; loops for non-blocking."""
        mv = memoryview(data).cast("B")
        while len(mv):
            mv = mv[self.send(mv):]

    def sendv(self, buffers):
        """ivt_sendv: gather the buffers (one message in message mode)."""
        keep = [_buf(b) for b in buffers]
        iov = (_IoVec * len(keep))()
        for i, (p, n, _k) in enumerate(keep):
            iov[i].iov_base = _c.cast(p, _vp)
            iov[i].iov_len = n
        return _check(_sendv(self._handle(), iov, len(keep)))

    def recv_into(self, buffer, nbytes=0):
        """Up to nbytes (0: the buffer's length) into buffer, as
        socket.recv_into; nbytes beyond the buffer is a ValueError."""
        mv = memoryview(buffer).cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes > len(mv):
            raise ValueError("buffer too small for requested bytes")
        n = nbytes or len(mv)
        if n == 0:
            return 0
        arr = (_c.c_char * len(mv)).from_buffer(mv)
        return _check(_recv(self._handle(), _c.cast(arr, _vp), n))

    STREAM_RECV_SIZE = 65536

    def recv(self, bufsize=None):
        """Up to bufsize bytes (stream; None: up to STREAM_RECV_SIZE), or
        one whole message (message mode; None: as large as the next
        message, OSError EMSGSIZE if bufsize is smaller)."""
        if bufsize is None:
            try:
                bufsize = self.next_msg_size() or 1
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
                bufsize = self.STREAM_RECV_SIZE  # a byte stream: no message size
        buf = bytearray(bufsize)
        n = self.recv_into(buf)
        return bytes(buf[:n])

    def next_msg_size(self):
        """Message mode: size of the next message (0 at end of stream)."""
        return _check(_next_msg_size(self._handle()))

    def set_nonblock(self, nonblock=True):
        _check(_set_nonblock(self._handle(), 1 if nonblock else 0))

    def set_timeouts(self, send_ms=-1, recv_ms=-1):
        """ivt_set_timeouts: -1 no limit (default), 0 fail at once, >0 ms."""
        _check(_set_timeouts(self._handle(), send_ms, recv_ms))

    @property
    def backend(self):
        b = _backend_name(self._handle())
        return b.decode() if b else None

    @property
    def peer_identity(self):
        if _peer_identity is None:
            raise NotImplementedError("libivt has no ivt_peer_identity")
        b = _peer_identity(self._handle())
        return b.decode() if b else None

    def stats(self):
        st = _Stats()
        _check(_get_stats(self._handle(), _c.byref(st)))
        return {n: getattr(st, n) for n, _t in _Stats._fields_}


class Listener(_Handle):
    """ivt_listen: accepts many connections, each its own Channel."""
    _close_fn = _listener_close

    @classmethod
    def open(cls, name, nonblock=False, message=False, backend=None, ring_size=0,
             timeout_ms=None, socket_path=None):
        if _listen is None:
            raise NotImplementedError("libivt has no ivt_listen")
        flags = (NONBLOCK if nonblock else 0) | (MESSAGE if message else 0)
        o = _opts(backend, ring_size, timeout_ms, socket_path, flags)
        h = _vp()
        _check(_listen(name.encode(), _c.byref(o), _c.byref(h)))
        return cls(h.value)

    def accept(self):
        h = _vp()
        _check(_accept(self._handle(), _c.byref(h)))
        return Channel(h.value)

    def fileno(self):
        return _check(_listener_fd(self._handle()))

    def set_nonblock(self, nonblock=True):
        _check(_listener_set_nonblock(self._handle(), 1 if nonblock else 0))


class Store(_Handle):
    """The utmem store (ivt_store_*): put/get/invalidate on ivtd's memory.

    get() returns None on a miss (ephemeral values may vanish at any time);
    other failures raise OSError with the store's wording (ivt_store_strerror).
    """

    _close_fn = _store_close
    _store = True

    def __init__(self, handle):
        super().__init__(handle)
        self.max_value = _store_max_value(self._h)

    @classmethod
    def open(cls, socket_path=None):
        o = _opts(socket_path=socket_path)
        h = _vp()
        _check(_store_open(_c.byref(o), _c.byref(h)))  # errors as ivt_open's (ivt.h)
        return cls(h.value)

    def pool_create(self, persistent=False, shared=False, uuid=None):
        flags = (POOL_PERSISTENT if persistent else 0) | (POOL_SHARED if shared else 0)
        if uuid is not None and len(uuid) != UUID_LEN:
            raise ValueError("uuid must be %d bytes" % UUID_LEN)
        pool = _c.c_uint32()
        _check(_pool_create(self._handle(), flags, bytes(uuid) if uuid else None, _c.byref(pool)),
               store=True)
        return pool.value

    def pool_destroy(self, pool):
        _check(_pool_destroy(self._handle(), pool), store=True)

    def put(self, pool, oid, index, data):
        pool, oid, index = _key(pool, oid, index)
        p, n, _keep = _buf(data)
        _check(_put(self._handle(), pool, oid, index, _c.cast(p, _vp), n), store=True)

    GET_FIRST_SIZE = 65536

    def get(self, pool, oid, index, take=False):
        """The value, or None on a miss. A first try with GET_FIRST_SIZE
        bytes; a larger value (EMSGSIZE leaves it in place) is fetched
        again with max_value bytes."""
        pool, oid, index = _key(pool, oid, index)
        size = max(min(self.max_value, self.GET_FIRST_SIZE), 1)
        while True:
            buf = _c.create_string_buffer(size)
            n = _get(self._handle(), pool, oid, index, buf, len(buf), GET_TAKE if take else 0)
            if n == -errno.EMSGSIZE and size < self.max_value:
                size = self.max_value
                continue
            if n == -errno.ENOENT:  # a miss is a normal result
                return None
            _check(n, store=True)
            return buf.raw[:n]

    def invalidate(self, pool, oid, index=None):
        """True if something was removed (index None: the whole object)."""
        pool, oid, _i = _key(pool, oid, 0 if index is None else index)
        rc = _invalidate_object(self._handle(), pool, oid) if index is None else \
            _invalidate(self._handle(), pool, oid, _i)
        if rc == -errno.ENOENT:
            return False
        _check(rc, store=True)
        return True

    def stats(self):
        st = _StoreStats()
        _check(_store_stats(self._handle(), _c.byref(st)), store=True)
        return {n: getattr(st, n) for n, _t in _StoreStats._fields_}

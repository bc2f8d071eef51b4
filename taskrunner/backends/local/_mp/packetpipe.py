"""A pipe whose messages survive a SIGKILL at any instant, for the pool's queues.

A stock ``multiprocessing`` Connection reads a message in two ``read()``
calls, the 4-byte length and then the body. A worker killed between the two
leaves a headless body in the pipe, and every later reader misparses the
stream (the bytes of a pickle read as a negative length give ``EOFError: Ran
out of input``): the queue is broken for good. Likewise a writer killed in the
middle of a large message leaves half of it behind.

Here each message is one *packet* of a Linux packet-mode pipe
(``O_DIRECT``, Linux >= 3.4): written with one ``write()`` of at most
``PIPE_BUF`` bytes (atomic), read with one ``read()`` that returns exactly one
packet. A process killed before or after that syscall leaves the pipe whole.
A message too big for one packet goes to a spool file first and the packet
carries the file's path; the reader removes the file.

Where ``O_DIRECT`` pipes do not exist, ``packet_pipe`` falls back to a stock
pipe (and so to the stock guarantees).
"""

from __future__ import annotations

import fcntl
import io
import os
import select
import tempfile
from multiprocessing import connection, reduction
from typing import Any

__all__ = ["PACKET_SIZE", "PacketConnection", "packet_pipe"]

#: The largest write the kernel keeps whole (and so the largest packet).
PACKET_SIZE: int = getattr(select, "PIPE_BUF", 4096)
#: What ``packet_pipe`` asks the kernel to buffer (its default unprivileged limit).
PIPE_CAPACITY = 1 << 20
_INLINE = b"I"
_SPOOLED = b"F"


class PacketConnection(connection.Connection):
    """One end of a packet pipe; see the module docstring.

    ``spool_dir`` is where the writing end puts messages bigger than a packet.
    """

    def __init__(self, handle: int, spool_dir: str, readable: bool = True, writable: bool = True):
        super().__init__(handle, readable=readable, writable=writable)
        self.spool_dir = spool_dir

    def send_message(self, data: bytes) -> None:
        """``send_bytes(data)`` without its checks and its memoryview (one result per job)."""
        self._send_bytes(data)

    def _send_bytes(self, buf: Any) -> None:
        if len(buf) + 1 <= PACKET_SIZE:
            packet = _INLINE + bytes(buf)  # (bytes(b) of a bytes is b itself: no copy)
        else:
            handle, path = tempfile.mkstemp(suffix=".msg", dir=self.spool_dir)
            with os.fdopen(handle, "wb") as spool:
                spool.write(buf)
            packet = _SPOOLED + os.fsencode(path)
        # One write of at most PIPE_BUF bytes: all of it lands, or none.
        os.write(self.fileno(), packet)

    def _recv_bytes(self, maxsize: int | None = None) -> io.BytesIO:
        packet = os.read(self.fileno(), PACKET_SIZE)
        if not packet:
            raise EOFError
        return io.BytesIO(_message(packet))

    def recv_ready(self) -> list[bytes]:
        """Every message already in the pipe, without waiting: a read each and
        no poll between them (the reading end becomes non-blocking, so use
        this method only, or poll before each ``recv_bytes``)."""
        fd = self.fileno()
        if not self._nonblocking:
            os.set_blocking(fd, False)
            self._nonblocking = True
        messages: list[bytes] = []
        while True:
            try:
                packet = os.read(fd, PACKET_SIZE)
            except BlockingIOError:
                return messages
            if not packet:
                return messages  # every writer is gone
            messages.append(_message(packet))

    _nonblocking = False


def _message(packet: bytes) -> bytes:
    """A packet's message: inline, or in the spool file it names (removed)."""
    kind, body = packet[:1], packet[1:]
    if kind == _INLINE:
        return body
    path = os.fsdecode(body)
    with open(path, "rb") as spool:
        data = spool.read()
    os.unlink(path)
    return data


def _reduce(conn: PacketConnection) -> tuple[Any, tuple[Any, ...]]:
    # As multiprocessing does for its own Connection: send a duplicate of the fd.
    return _rebuild, (reduction.DupFd(conn.fileno()), conn.spool_dir, conn.readable, conn.writable)


def _rebuild(dup: Any, spool_dir: str, readable: bool, writable: bool) -> PacketConnection:
    return PacketConnection(dup.detach(), spool_dir, readable, writable)


reduction.register(PacketConnection, _reduce)


def packet_pipe(spool_dir: str) -> tuple[connection.Connection, connection.Connection]:
    """A one-way pipe ``(reader, writer)`` in packet mode where the OS has it."""
    direct = getattr(os, "O_DIRECT", None)
    if direct is None:
        return connection.Pipe(duplex=False)
    try:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC | direct)
    except OSError:  # e.g. a kernel older than 3.4
        return connection.Pipe(duplex=False)
    # A packet takes a whole page of the pipe, so the default 64 KiB pipe
    # holds only 16 messages and fast workers would block on a busy
    # coordinator. Ask for the unprivileged maximum (1 MiB: 256 messages).
    try:
        fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_CAPACITY)
    except OSError:
        pass
    return (
        PacketConnection(read_fd, spool_dir, writable=False),
        PacketConnection(write_fd, spool_dir, readable=False),
    )

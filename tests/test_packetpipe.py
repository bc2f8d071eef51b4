"""The packet pipe under the pool's queues: a reader that dies part-way through
a message must not tear the stream for the next reader. Real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskrunner.backends.local._mp.packetpipe import PACKET_SIZE, PacketConnection, packet_pipe

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_leftovers")]

# What a stock multiprocessing reader does before it dies between its two
# read() calls: it takes the 4-byte length and nothing more.
READ_HEADER_AND_DIE = "import os, sys; os.read(int(sys.argv[1]), 4); os._exit(0)"


@pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="packet-mode pipes are Linux-only")
def test_a_reader_that_dies_mid_message_leaves_the_next_message_whole(tmp_path: Path) -> None:
    reader, writer = packet_pipe(str(tmp_path))
    assert isinstance(reader, PacketConnection)
    writer.send(("first", list(range(50))))
    writer.send(("second", list(range(50))))
    subprocess.run(
        [sys.executable, "-c", READ_HEADER_AND_DIE, str(reader.fileno())],
        pass_fds=[reader.fileno()],
        check=True,
        timeout=20,
    )
    # The dead reader took (and lost) the whole first message, not 4 bytes of it.
    assert reader.recv() == ("second", list(range(50)))
    reader.close()
    writer.close()


def test_a_message_bigger_than_a_packet_travels_through_a_spool_file(tmp_path: Path) -> None:
    reader, writer = packet_pipe(str(tmp_path))
    big = os.urandom(PACKET_SIZE * 30)
    writer.send_bytes(big)
    writer.send_bytes(b"small")
    assert reader.recv_bytes() == big
    assert reader.recv_bytes() == b"small"
    assert list(tmp_path.iterdir()) == [], "the reader removes the spool file"
    reader.close()
    writer.close()


def test_end_of_file_when_the_writer_is_gone(tmp_path: Path) -> None:
    reader, writer = packet_pipe(str(tmp_path))
    writer.close()
    with pytest.raises(EOFError):
        reader.recv_bytes()
    reader.close()

"""Loader worker processes need a temp dir short enough for a Unix socket path.

torch's DataLoader workers hand each batch's tensors to the parent as file descriptors
(torch's default "file_descriptor" sharing strategy on Linux), through multiprocessing's
resource sharer: a Unix socket at TMPDIR/pymp-XXXXXXXX/listener-XXXXXXXX. Linux caps such
a path at 107 bytes. Past it the send fails inside the worker's queue thread, the batch is
dropped without a word, and the parent waits for it forever (seen here: `fgsgl run-local`
with its root 80 characters deep hung in the first training epoch). So a loader with
workers checks the temp dir first and refuses, with the ways out, instead of hanging.
"""

from __future__ import annotations

import os
import tempfile

from fgsgl.errors import FgsglError

SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
LISTENER = "/pymp-xxxxxxxx/listener-xxxxxxxx"  # multiprocessing's folder and socket names


def fits_worker_sockets(tmp: str | os.PathLike) -> bool:
    """Whether multiprocessing's sockets under the temp dir `tmp` fit a Unix socket path."""
    return len(os.fsencode(tmp)) + len(LISTENER) <= SOCKET_PATH_MAX


def require_worker_sockets(workers: int) -> None:
    """Refuse loader workers where their sockets could not be made (see the module)."""
    tmp = tempfile.gettempdir()
    if workers > 0 and not fits_worker_sockets(tmp):
        longest = SOCKET_PATH_MAX - len(LISTENER)
        raise FgsglError(
            f"the temp dir {tmp} is {len(os.fsencode(tmp))} bytes long: the {workers} loader "
            "worker(s) hand batches over Unix sockets under it, whose paths Linux caps at "
            f"{SOCKET_PATH_MAX} bytes. Set TMPDIR to a folder of at most {longest} bytes, "
            "or data.workers=0"
        )

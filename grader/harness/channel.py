"""The run's end of grader's live channel (grader.sandbox.channel): length-prefixed JSON frames.

The trusted side drives: it sends a message and waits, within a time limit,
for one answer. This side only answers.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

from .protocol import CHANNEL_FD_ENV, FRAME_HEADER_BYTES, MAX_FRAME_BYTES

_HEADER = struct.Struct(">I")


class ChannelClosed(Exception):
    """The trusted side closed the channel (the evaluation ended or was stopped)."""


class RunChannel:
    """Send and receive whole frames over the inherited socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    @classmethod
    def inherited(cls) -> RunChannel:
        """The channel grader handed this run (its descriptor named in the environment)."""
        fd = int(os.environ[CHANNEL_FD_ENV])
        return cls(socket.socket(fileno=fd))

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, allow_nan=False).encode()
        if len(data) > MAX_FRAME_BYTES:
            raise ValueError(f"a message of {len(data):,} bytes is over the channel's {MAX_FRAME_BYTES:,}")
        self.sock.sendall(_HEADER.pack(len(data)) + data)

    def receive(self) -> dict[str, Any]:
        (length,) = _HEADER.unpack(self._read(FRAME_HEADER_BYTES))
        return json.loads(self._read(length))

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ChannelClosed("grader closed the channel")
            data += chunk
        return data

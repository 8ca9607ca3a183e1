"""No network in a block of code: any outgoing connection fails loudly instead of downloading."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest


class NetworkBlocked(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkBlocked(f"network access attempted in an offline test: {args[1:] or kwargs}")


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Block outgoing TCP/UDP connections (the hub, telemetry) while the block runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse)
        patch.setattr(socket.socket, "connect_ex", _refuse)
        patch.setattr(socket, "create_connection", _refuse)
        patch.setattr(socket, "getaddrinfo", _refuse)
        yield

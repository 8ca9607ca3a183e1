"""No network in a block of code: any outgoing connection fails loudly instead of downloading."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest


class NetworkBlocked(RuntimeError):
    pass


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _loopback_only(real, host_of):
    def guarded(*args, **kwargs):
        host = host_of(*args)
        if host not in LOOPBACK:
            raise NetworkBlocked(f"network access attempted in an offline test: {host!r}")
        return real(*args, **kwargs)

    return guarded


def _address_host(address) -> str | None:
    return address[0] if isinstance(address, tuple) else None


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse every connection and name lookup except loopback (the hub, telemetry) meanwhile."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("connect", "connect_ex"):
            real = getattr(socket.socket, name)
            patch.setattr(
                socket.socket, name, _loopback_only(real, lambda s, a, *_: _address_host(a))
            )
        patch.setattr(
            socket,
            "create_connection",
            _loopback_only(socket.create_connection, lambda a, *_: _address_host(a)),
        )
        patch.setattr(
            socket, "getaddrinfo", _loopback_only(socket.getaddrinfo, lambda host, *_: host)
        )
        yield

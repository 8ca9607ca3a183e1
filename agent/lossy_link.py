"""A lossy, jittery network between an aiortc peer and the agent, made inside the peer (these machines'
kernels offer no netem qdisc): each RTP/RTCP packet the peer sends or receives is dropped with the
set probability, else delayed by a fixed one-way delay plus a uniform random jitter, so packets closer
together than the jitter arrive reordered. DTLS, STUN and the data channel's SCTP pass untouched (a
real link loses them too, but their retransmissions only slow the handshake; the audio is what a
lossy link hurts). Used by `benchmarks/voice_latency.py --link` and the lossy-link tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCPeerConnection
from aiortc.rtcicetransport import RTCIceTransport


@dataclass(frozen=True)
class LinkConditions:
    """One direction's impairment, applied to both directions."""

    loss: float = 0.0  # share of RTP/RTCP packets dropped
    delay_ms: float = 0.0  # fixed one-way delay
    jitter_ms: float = 0.0  # plus uniform random 0..jitter: reorders packets closer than it
    seed: int = 0

    @classmethod
    def parse(cls, spec: str) -> LinkConditions:
        """`clean`, or `loss=0.05,jitter=40,delay=20` (loss a share, times in ms)."""
        if spec == "clean":
            return cls()
        names = {"loss": "loss", "delay": "delay_ms", "jitter": "jitter_ms", "seed": "seed"}
        values: dict[str, float] = {}
        for item in spec.split(","):
            key, _, value = item.partition("=")
            if key not in names or not value:
                raise ValueError(f"link spec {spec!r}: use clean or loss=,delay=,jitter=,seed=")
            values[names[key]] = float(value)
        if "seed" in values:
            values["seed"] = int(values["seed"])
        return cls(**values)

    def label(self) -> str:
        if not (self.loss or self.delay_ms or self.jitter_ms):
            return "clean"
        return f"{self.loss:.0%} loss, {self.delay_ms:g} ms delay, {self.jitter_ms:g} ms jitter"


@dataclass
class LinkCounts:
    """RTP/RTCP packets seen and dropped, per direction."""

    sent: int = 0
    sent_dropped: int = 0
    received: int = 0
    received_dropped: int = 0


def _is_media(data: bytes) -> bool:
    return len(data) > 0 and 127 < data[0] < 192  # RFC 7983: RTP and RTCP


def impair(pc: RTCPeerConnection, conditions: LinkConditions) -> LinkCounts:
    """Put `conditions` on `pc`'s ICE transports; call after setLocalDescription and before
    setRemoteDescription (before DTLS starts reading)."""
    counts = LinkCounts()
    rng = random.Random(conditions.seed)
    transports = {t.receiver.transport.transport for t in pc.getTransceivers()}
    if pc.sctp is not None:
        transports.add(pc.sctp.transport.transport)
    for ice in transports:
        _ImpairedTransport(ice, conditions, rng, counts)
    return counts


class _ImpairedTransport:
    """Replaces one ICE transport's `_send`/`_recv` (what its DTLS transport calls)."""

    def __init__(
        self,
        ice: RTCIceTransport,
        conditions: LinkConditions,
        rng: random.Random,
        counts: LinkCounts,
    ) -> None:
        self._send: Callable[[bytes], Awaitable[None]] = ice._send
        self._recv: Callable[[], Awaitable[bytes]] = ice._recv
        self._conditions = conditions
        self._rng = rng
        self._counts = counts
        self._arrivals: asyncio.Queue = asyncio.Queue()
        self._pump: asyncio.Task | None = None
        self._in_flight: set[asyncio.Task] = set()
        ice._send = self.send
        ice._recv = self.recv

    def _drop(self) -> bool:
        return self._rng.random() < self._conditions.loss

    def _delay(self) -> float:
        return (self._conditions.delay_ms + self._rng.uniform(0, self._conditions.jitter_ms)) / 1000

    async def send(self, data: bytes) -> None:
        if not _is_media(data):
            await self._send(data)
            return
        self._counts.sent += 1
        if self._drop():
            self._counts.sent_dropped += 1
            return
        task = asyncio.ensure_future(self._send_later(data, self._delay()))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send_later(self, data: bytes, seconds: float) -> None:
        await asyncio.sleep(seconds)
        with contextlib.suppress(ConnectionError):  # it closed while the packet was in flight
            await self._send(data)

    async def recv(self) -> bytes:
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._pump_arrivals())
        item = await self._arrivals.get()
        if isinstance(item, Exception):
            self._arrivals.put_nowait(item)  # every later read fails the same way
            raise item
        return item

    async def _pump_arrivals(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await self._recv()
            except Exception as e:  # the connection ended: the reader must see it
                self._arrivals.put_nowait(e)
                return
            if not _is_media(data):
                self._arrivals.put_nowait(data)
                continue
            self._counts.received += 1
            if self._drop():
                self._counts.received_dropped += 1
                continue
            loop.call_later(self._delay(), self._arrivals.put_nowait, data)

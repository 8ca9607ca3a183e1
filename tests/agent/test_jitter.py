"""The audio receive buffer the agent (and the benchmark client) shorten: what a packet waits for."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RtpPacket

from agent.jitter import AIORTC_AUDIO_PREFETCH, set_audio_prefetch
from agent.webrtc_client import MicrophoneTrack


def audio_buffer(pc: RTCPeerConnection):
    (receiver,) = pc.getReceivers()
    return receiver._RTCRtpReceiver__jitter_buffer


def packets_until_first_frame(buffer) -> int:
    """Feed 20 ms Opus packets in order; how many arrive before the first is released."""
    for n in range(16):
        packet = RtpPacket(payload_type=111, sequence_number=n, timestamp=960 * n)
        packet._data = b"opus"
        _, frame = buffer.add(packet)
        if frame is not None:
            assert frame.timestamp == 0
            return n
    raise AssertionError("no frame released in 16 packets")


def with_audio_receiver(check) -> None:
    async def run() -> None:
        pc = RTCPeerConnection()
        pc.addTrack(MicrophoneTrack())
        try:
            check(pc)
        finally:
            await pc.close()

    asyncio.run(run())


def test_aiortc_still_holds_four_packets_by_default():
    # If aiortc changes its stock buffer, the benchmarks' baseline and this module need a look.
    def check(pc):
        assert packets_until_first_frame(audio_buffer(pc)) == AIORTC_AUDIO_PREFETCH

    with_audio_receiver(check)


@pytest.mark.parametrize("packets", [1, 2, 4])
def test_the_first_packet_is_heard_after_the_set_number_of_packets(packets):
    def check(pc):
        assert set_audio_prefetch(pc, packets) is True
        assert packets_until_first_frame(audio_buffer(pc)) == packets

    with_audio_receiver(check)


@pytest.mark.parametrize("packets", [0, 16, -1])
def test_a_prefetch_outside_the_buffer_is_refused(packets):
    def check(pc):
        with pytest.raises(ValueError, match="1-15 packets"):
            set_audio_prefetch(pc, packets)
        assert audio_buffer(pc)._prefetch == AIORTC_AUDIO_PREFETCH

    with_audio_receiver(check)


def test_a_connection_without_audio_is_left_alone():
    async def run() -> None:
        pc = RTCPeerConnection()
        pc.createDataChannel("rtvi")
        try:
            assert set_audio_prefetch(pc, 1) is False
        finally:
            await pc.close()

    asyncio.run(run())

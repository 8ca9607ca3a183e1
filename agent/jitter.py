"""A shorter audio receive buffer than aiortc's: every packet it holds is latency in each turn.

aiortc's audio receiver hard-codes `JitterBuffer(capacity=16, prefetch=4)`: a packet is released
only when four later ones have arrived, 80 ms at 20 ms Opus frames, before the VAD hears the
user's first syllable (or, on an aiortc client, before the bot's audio plays). A browser's adaptive
buffer holds ~1-2 packets on a clean path. Only reordering needs prefetch (a lost packet stalls
aiortc's buffer whatever the prefetch), so on the paths this agent serves one packet is enough.
"""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from loguru import logger

AIORTC_AUDIO_PREFETCH = 4
# aiortc keeps the buffer in a private (name-mangled) attribute, set once in the receiver's __init__.
_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


def set_audio_prefetch(pc: RTCPeerConnection, packets: int) -> bool:
    """Hold `packets` packets in each audio receiver of `pc`; call before media flows.

    False (and a warning) when this aiortc keeps its buffer elsewhere: the stock one stays.
    """
    if not 1 <= packets <= 15:
        raise ValueError(f"audio prefetch must be 1-15 packets, got {packets}")
    changed = False
    for receiver in pc.getReceivers():
        current = getattr(receiver, _BUFFER_ATTRIBUTE, None)
        if not isinstance(current, JitterBuffer):
            logger.warning("This aiortc keeps no jitter buffer where expected; left as is")
            return False
        if current._is_video:
            continue
        setattr(
            receiver, _BUFFER_ATTRIBUTE, JitterBuffer(capacity=current.capacity, prefetch=packets)
        )
        changed = True
    return changed

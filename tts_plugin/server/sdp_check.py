"""Is this an SDP offer WebRTC could use? Asked before aiortc sees it, so that a bad offer is the
client's 400 and anything that fails afterwards is our 500."""

from __future__ import annotations

from aiortc.sdp import SessionDescription, candidate_from_sdp


def offer_problem(sdp: str) -> str | None:
    """What is wrong with `sdp` as an offer, in words; None when aiortc can parse it. aiortc's
    own checks while applying it (ICE credentials, codecs) raise `ValueError`, also the client's."""
    lines = [line.strip() for line in sdp.strip().splitlines()]
    if not lines or lines[0] != "v=0" or not any(line.startswith("m=") for line in lines):
        return "sdp is not an SDP offer (needs v=0 and an m= line)"
    try:
        SessionDescription.parse(sdp)
    except Exception as e:  # any parse failure is the text's fault, whatever aiortc raised
        return f"could not use this SDP offer: it does not parse ({type(e).__name__} {e})".strip()
    return None


def candidate_problem(candidate: str) -> str | None:
    """What is wrong with a trickled ICE candidate line; None when it parses (empty: the
    end-of-candidates marker)."""
    if not candidate:
        return None
    try:
        candidate_from_sdp(candidate)  # as Pipecat will
    except Exception as e:  # any parse failure is the line's fault, whatever aiortc raised
        return f"bad ICE candidate: it does not parse ({type(e).__name__} {e})".strip()
    return None

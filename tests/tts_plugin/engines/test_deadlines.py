"""The model lock serves the most urgent waiter first; a stream's urgency follows its audio."""

from __future__ import annotations

import threading
import time

import pytest

from tts_plugin.engines.indextts2.deadlines import DeadlineLock, StreamClock, now_key


def test_waiters_are_served_lowest_key_first_not_first_come():
    lock = DeadlineLock()
    served: list[str] = []
    lock.acquire((0, 0.0))
    waiters = []
    for name, key in [("late", (1, 50.0)), ("first-audio", (0, 9.0)), ("soon-dry", (1, 10.0))]:
        thread = threading.Thread(target=lambda n=name, k=key: (lock.acquire(k), served.append(n),
                                                              lock.release()))  # fmt: skip
        thread.start()
        waiters.append(thread)
        time.sleep(0.05)  # queued in this order
    lock.release()
    for thread in waiters:
        thread.join(5)
    assert served == ["first-audio", "soon-dry", "late"]


def test_the_lock_is_reentrant_and_only_its_holder_releases_it():
    lock = DeadlineLock()
    with lock.hold((0, 0.0)), lock.hold((0, 1.0)):
        pass
    with lock.hold((0, 0.0)):
        errors = []
        thread = threading.Thread(target=lambda: errors.append(_release(lock)))
        thread.start()
        thread.join(5)
        assert isinstance(errors[0], RuntimeError)
    # Free again: another thread takes it at once.
    taken = threading.Event()
    thread = threading.Thread(target=lambda: (lock.acquire((0, 0.0)), taken.set(), lock.release()))
    thread.start()
    assert taken.wait(5)


def _release(lock: DeadlineLock) -> Exception | None:
    try:
        lock.release()
    except RuntimeError as e:
        return e
    return None


def test_a_stream_is_urgent_until_it_speaks_then_by_when_its_audio_runs_out():
    quiet, speaking = StreamClock(), StreamClock()
    assert quiet.key()[0] == 0
    speaking.sent(0.0)  # nothing heard yet
    assert speaking.key()[0] == 0
    speaking.sent(2.0)
    first = speaking.key()
    assert first[0] == 1
    speaking.sent(1.5)
    assert speaking.key()[1] == pytest.approx(first[1] + 1.5)
    assert quiet.key() < first  # a stream with no audio yet goes before one that has some
    assert now_key() < quiet.key()  # and a request's start-up work (its prefill) before both

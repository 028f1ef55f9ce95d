"""The clock port: timers on the system clock, and a simulated clock that runs what is due to quiescence."""

from __future__ import annotations

import asyncio
import time

import pytest

from tradewind.domain.clock import SimClock, SystemClock


async def test_advancing_runs_each_due_timer_to_its_next_wait_even_through_threads() -> None:
    clock = SimClock(0)
    seen: list[tuple[float, str, str]] = []

    async def loop(name: str, every: float, work: float) -> None:
        await clock.sleep(0)
        while True:
            await clock.sleep(every)
            seen.append((clock.now(), name, "start"))
            await asyncio.to_thread(time.sleep, work)  # real work on the wall clock
            seen.append((clock.now(), name, "end"))

    tasks = [asyncio.create_task(loop("a", 10, 0.02), name="a"), asyncio.create_task(loop("b", 15, 0.01), name="b")]
    for t in range(0, 61):
        await clock.advance_to(t)
        seen.append((float(t), "feed", ""))
    for task in tasks:
        task.cancel()
    assert [at for at, name, what in seen if name == "a" and what == "start"] == [10, 20, 30, 40, 50, 60]
    assert [at for at, name, what in seen if name == "b" and what == "start"] == [15, 30, 45, 60]
    # at 30 both are due: in the order they started waiting (b at 15, a at 20), one after the other,
    # each finished before the feed moves on
    assert seen.index((30.0, "b", "end")) < seen.index((30.0, "a", "start")) < seen.index((30.0, "a", "end")) \
        < seen.index((30.0, "feed", ""))
    assert seen.index((10.0, "a", "end")) < seen.index((10.0, "feed", ""))


async def test_waiting_for_a_time_passed_still_waits_for_the_owner_and_cancelled_waits_are_dropped() -> None:
    clock = SimClock(100)
    woke: list[float] = []

    async def late() -> None:
        await clock.sleep_until(50)  # in the past: runs at the next advance, not at once
        woke.append(clock.now())

    task = asyncio.create_task(late())
    await asyncio.sleep(0.01)
    assert woke == []
    await clock.advance_to(100)
    assert woke == [100]
    cancelled = asyncio.create_task(clock.sleep_until(200))
    await asyncio.sleep(0)
    assert clock.next_timer == 200
    cancelled.cancel()
    await asyncio.sleep(0)
    assert clock.next_timer is None
    await clock.advance_to(300)  # nothing due: just moves
    assert clock.now() == 300 and task.done()


async def test_a_task_that_never_waits_again_stalls_the_clock_with_its_name() -> None:
    clock = SimClock(0, quiet_timeout=0.2)

    async def stuck() -> None:
        await clock.sleep(1)
        await asyncio.Event().wait()  # waits on something that is not the clock

    task = asyncio.create_task(stuck(), name="stuck-loop")
    with pytest.raises(RuntimeError, match="stuck-loop"):
        await clock.advance_to(5)
    task.cancel()


async def test_the_owner_cancelled_just_after_the_task_it_woke_ended_is_cancelled() -> None:
    """How a service stops: it cancels the woken loop, waits for it, then cancels the feed that is
    waiting in ``advance_to``. That cancel must end the feed. (Python 3.11's ``wait_for`` swallowed it:
    the feed went on with its replay and the stopped service's thread stayed up.)"""
    clock = SimClock(0, quiet_timeout=30)
    played: list[float] = []

    async def loop() -> None:  # woken at 10, then busy with something that is not the clock
        await clock.sleep(10)
        await asyncio.Event().wait()

    async def feed() -> None:  # a replay paced on the wall, as at a high replay speed
        for t in range(10, 1000, 10):
            await clock.advance_to(t)
            played.append(t)
            await asyncio.sleep(0.002)

    woken = asyncio.create_task(loop(), name="cycle")
    await asyncio.sleep(0)
    owner = asyncio.create_task(feed(), name="feed")
    for _ in range(5):  # the feed wakes the loop and waits for it to be quiet
        await asyncio.sleep(0)
    assert not owner.done() and not played
    woken.cancel()
    await asyncio.gather(woken, return_exceptions=True)  # the loop ended: the clock is quiet
    owner.cancel()
    done, _ = await asyncio.wait({owner}, timeout=5)
    assert done and owner.cancelled(), f"the cancelled feed did not stop: it played on to {played[-1:]}"
    assert len(played) < 5


async def test_the_system_clock_sleeps_on_the_wall() -> None:
    clock = SystemClock()
    started = time.monotonic()
    await clock.sleep_until(clock.now() + 0.05)
    await clock.sleep(0.02)
    await clock.sleep_until(clock.now() - 10)  # the past: at once
    assert 0.06 <= time.monotonic() - started < 1.0

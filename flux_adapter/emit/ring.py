"""The flow server's ring as arithmetic: how many envelopes each acknowledged key has left.

`docs/contract.md`, "Sequence numbers and the ring": every envelope the
server accepts gets the flow's next number, shared by every adapter posting
into the flow; the server keeps the envelopes with the last `capacity`
numbers, and a key vanishes from the snapshot when the envelope that last
upserted it falls out. With the flow's newest number at `latest`, the
envelope numbered `seq` is held while `seq > latest - capacity`, so the
flow can accept `seq + capacity - 1 - latest` more envelopes, from anyone,
before it is evicted: its *room* (the stricter reading of the contract).

A key is re-upserted when its room falls to the *margin*, a quarter of the
ring: the traffic that can arrive unseen between the adapter's last look at
the numbers and its re-upsert being numbered must stay below it. A refresh
also takes every key that would fall due within the *horizon* (half the
rest of the ring), so keys travel together in few envelopes.

Pure: no I/O and no clock; times are passed in (seconds, monotonic).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

MIN_CAPACITY = 4
"""The smallest ring the arithmetic accepts: a margin of one, and room for a refresh."""

RATE_WINDOW = 120.0
"""Seconds of numbers kept to estimate the flow's rate while the stream is not followed."""

RATE_STEP = 1.0
"""Seconds between two samples of the rate: shorter gaps say nothing about a rate."""


def margin(capacity: int) -> int:
    """Envelopes of room kept in hand: a key is re-upserted when its room falls to this."""
    return max(1, capacity // 4)


def horizon(capacity: int) -> int:
    """Envelopes ahead a refresh looks: keys falling due within this go along now."""
    return max(0, (capacity - 1 - margin(capacity)) // 2)


def probe_age(capacity: int) -> int:
    """How old (in envelopes) the oldest key is at the last probe: 60 % of the ring.

    Below the refresh point (`capacity - margin`), so a ring on the server
    smaller than configured shows as a hole before the refresh hides it.
    """
    return max(1, (capacity - margin(capacity)) * 4 // 5)


def probe_ages(capacity: int) -> tuple[int, ...]:
    """The oldest key's ages (envelopes) at which snapshot checks look whether it is held.

    A quarter of the ring first, so a ring four times smaller than
    configured (a user who left the default) is found as its first hole
    opens; then `probe_age`. Each probe that finds the key held moves on to
    the next age; past the last the ring is as large as it needs to be.
    """
    return tuple(sorted({max(1, capacity // 4), probe_age(capacity)}))


def learned_capacity(latest: int, missing: Iterable[int], held: Iterable[int]) -> int | None:
    """The most the server's ring can hold, from a snapshot: or `None` when it says nothing.

    `missing`: numbers of envelopes whose keys the snapshot lacks; `held`:
    those whose keys it holds; `latest`: the flow's newest number when the
    snapshot was read. The ring keeps the newest envelopes and drops the
    oldest first, so keys are gone only below every held one; then the
    ring holds at most `latest - newest missing` envelopes. Any other
    pattern (nothing held: a lost flow; a gap out of order) is no evidence.
    """
    missing, held = list(missing), list(held)
    if not missing or not held or max(missing) >= min(held):
        return None
    return latest - max(missing)


def room(seq: int, latest: float, capacity: int) -> float:
    """How many more envelopes the flow accepts before envelope `seq` is evicted.

    Negative when it may already be gone. `latest` may be an estimate.
    """
    return seq + capacity - 1 - latest


def oldest_possible(latest: int, capacity: int) -> int:
    """The lowest number an envelope still in the ring can carry when the newest is `latest`.

    A key the server holds without a number the adapter knows is given this
    one: it counts as the oldest.
    """
    return max(1, latest - capacity + 1)


class FlowNumbers:
    """The flow's newest sequence number as far as this adapter knows, and its rate.

    Numbers come from POST answers and from the event stream. A number below
    one the server must already have passed says it counted again from 1:
    it lost the flow (a restart, or the flow deleted), if it is true. Such a
    number changes nothing here; once a caller believes it, `restart` starts
    the new count. `epoch` counts those restarts, so a caller can tell
    whether a number it holds belongs to the count it is looking at.
    """

    def __init__(self) -> None:
        self.latest = 0
        self.epoch = 0
        self.heard_at: float | None = None
        self._samples: deque[tuple[float, int]] = deque()

    def heard(self, seq: int, at_least: int, now: float) -> bool:
        """Take a number the server gave; true, and nothing taken, when it is below `at_least`.

        `at_least` is the lowest number the server can answer unless it
        started again: one more than the newest known when a POST was sent,
        the newest known when a stream was opened, the stream's previous
        number for the next event on it. A lower one says the flow was lost,
        which the caller checks before believing it (`restart`).
        """
        if seq < at_least:
            return True
        self.latest = max(self.latest, seq)
        self.heard_at = now
        while self._samples and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()
        if not self._samples or now - self._samples[-1][0] >= RATE_STEP:
            self._samples.append((now, self.latest))
        return False

    def restart(self, seq: int, now: float) -> None:
        """The server did count again from 1: `seq`, heard at `now`, is in the new count."""
        self.epoch += 1
        self.latest = seq
        self._samples.clear()
        self._samples.append((now, seq))
        self.heard_at = now

    def forget(self) -> None:
        """Know nothing again (a takeover): the next number starts a new count."""
        self.epoch += 1
        self.latest = 0
        self.heard_at = None
        self._samples.clear()

    def rate(self) -> float:
        """The highest rate seen over the last `RATE_WINDOW` s, in envelopes per second.

        Taken between samples at least `RATE_STEP` apart, so a burst raises
        it for a while; 0 before two samples.
        """
        best = 0.0
        for (t1, s1), (t2, s2) in itertools.pairwise(self._samples):
            best = max(best, (s2 - s1) / (t2 - t1))
        return best

    def estimate(self, now: float, following: bool) -> float:
        """The newest number now: as heard while the stream is followed, else extrapolated."""
        if following or self.heard_at is None:
            return float(self.latest)
        return self.latest + self.rate() * max(0.0, now - self.heard_at)

    def when(self, target: float, now: float, following: bool) -> float:
        """The time (s, monotonic) the estimate reaches `target`; infinity if nothing says when."""
        if self.estimate(now, following) >= target:
            return now
        rate = self.rate()
        if following or rate <= 0 or self.heard_at is None:
            return math.inf
        return self.heard_at + (target - self.latest) / rate


class Ages(Generic[K]):
    """The number of the envelope that last upserted each key, with the oldest at hand."""

    def __init__(self) -> None:
        self._seq: dict[K, int] = {}
        # How many keys carry each number, and those numbers in a heap: a
        # number is in the heap exactly when it is a key of `_count`.
        self._count: dict[int, int] = {}
        self._heap: list[int] = []

    def __len__(self) -> int:
        return len(self._seq)

    def __contains__(self, key: object) -> bool:
        return key in self._seq

    def get(self, key: K) -> int | None:
        return self._seq.get(key)

    def tracked(self) -> list[K]:
        return list(self._seq)

    def set(self, keys: Iterable[K], seq: int) -> None:
        """These keys were last upserted by envelope `seq`."""
        for key in keys:
            self._release(key)
            self._seq[key] = seq
            if seq not in self._count:
                self._count[seq] = 0
                heapq.heappush(self._heap, seq)
            self._count[seq] += 1

    def drop(self, keys: Iterable[K]) -> None:
        """Stop tracking these keys (deleted, or no longer ours to keep)."""
        for key in keys:
            self._release(key)
            self._seq.pop(key, None)

    def clear(self) -> None:
        self._seq.clear()
        self._count.clear()
        self._heap.clear()

    def oldest(self) -> int | None:
        """The lowest number any key carries; `None` when no key is tracked."""
        while self._heap and self._count[self._heap[0]] == 0:
            del self._count[heapq.heappop(self._heap)]
        return self._heap[0] if self._heap else None

    def by_age(self) -> list[K]:
        """Every key, oldest first (ties in the order they were set)."""
        return sorted(self._seq, key=self._seq.__getitem__)

    def _release(self, key: K) -> None:
        seq = self._seq.get(key)
        if seq is not None:
            self._count[seq] -= 1


@dataclass(frozen=True)
class Refresh(Generic[K]):
    """What a refresh re-upserts: `urgent` must go now, `filler` rides along where it fits.

    Both are oldest first.
    """

    urgent: list[K] = field(default_factory=list)
    filler: list[K] = field(default_factory=list)


class Ring(Generic[K]):
    """One flow's numbers and the ages of this adapter's keys in it, and when to refresh."""

    def __init__(self, capacity: int) -> None:
        """`capacity`: the server's `FLOW_SERVER_RING_CAPACITY`, in envelopes."""
        if capacity < MIN_CAPACITY:
            raise ValueError(f"ring capacity must be at least {MIN_CAPACITY}, got {capacity}")
        self.capacity = capacity
        self.margin = margin(capacity)
        self.horizon = horizon(capacity)
        self.numbers = FlowNumbers()
        self.ages: Ages[K] = Ages()
        self._last_refresh: int | None = None
        self._probed: tuple[int, int] | None = None
        self._probe_level = 0

    def shrink(self, capacity: int) -> None:
        """The server keeps fewer envelopes than configured: refresh by `capacity` from now on.

        Raises `ValueError` below `MIN_CAPACITY` or above the capacity now in force.
        """
        if not MIN_CAPACITY <= capacity <= self.capacity:
            raise ValueError(f"cannot shrink a ring of {self.capacity} to {capacity}")
        self.capacity = capacity
        self.margin = margin(capacity)
        self.horizon = horizon(capacity)
        self._probe_level = 0

    @property
    def verified(self) -> bool:
        """Every probe found the oldest key held: the server's ring is as large as configured.

        No more probes until the ring shrinks or the flow is lost.
        """
        return self._probe_level >= len(probe_ages(self.capacity))

    def held_at(self, age: int) -> None:
        """A check found every key held, the oldest `age` envelopes old: pass what it covers."""
        ages = probe_ages(self.capacity)
        while self._probe_level < len(ages) and ages[self._probe_level] <= age:
            self._probe_level += 1

    def probe_at(self, now: float, following: bool) -> float:
        """When (s, monotonic) the oldest key reaches `probe_age`: a snapshot check is then due.

        Once per oldest key and probe: a probe that decided nothing waits for
        another oldest key; none once the ring is `verified`. Infinity when
        nothing is tracked or nothing says when.
        """
        oldest = self.ages.oldest()
        if self.verified or oldest is None or (oldest, self._probe_level) == self._probed:
            return math.inf
        age = probe_ages(self.capacity)[self._probe_level]
        return self.numbers.when(oldest + age, now, following)

    def probed(self) -> None:
        """A snapshot check is looking at the oldest key, at the current probe.

        Called before the check's findings move the probe on (`held_at`), so a
        check that decides nothing is not asked again for the same key.
        """
        oldest = self.ages.oldest()
        self._probed = None if oldest is None else (oldest, self._probe_level)

    def acknowledged(
        self, upserted: Iterable[K], removed: Iterable[K], seq: int | None, mark: int
    ) -> None:
        """An envelope was accepted as `seq` (`None`: not said) after `mark` was the newest.

        Without a number, the envelope is known only to come after `mark`.
        """
        self.ages.set(upserted, seq if seq is not None else mark + 1)
        self.ages.drop(removed)

    def unknown(self, keys: Iterable[K], mark: int) -> None:
        """Keys the server holds under numbers not known, seen when `mark` was the newest.

        They count as the oldest an envelope still held can be.
        """
        self.ages.set(keys, oldest_possible(mark, self.capacity))

    def lost(self) -> None:
        """The server lost the flow: nothing of ours is held any more (nor is its ring known)."""
        self.ages.clear()
        self._last_refresh = None
        self._probe_level = 0

    def forget(self) -> None:
        """Trust nothing known so far (a takeover): neither the count nor any key's number."""
        self.numbers.forget()
        self.lost()

    def headroom(self, now: float, following: bool) -> float | None:
        """Room of the oldest key, in envelopes; `None` while no key is tracked."""
        oldest = self.ages.oldest()
        if oldest is None:
            return None
        return room(oldest, self.numbers.estimate(now, following), self.capacity)

    def due_at(self, now: float, following: bool) -> float:
        """When (s, monotonic) a refresh falls due: `now` if it is, infinity if nothing says when.

        Due when the oldest key's room is down to the margin, and a horizon
        has passed since the last refresh ended: a graph that does not fit in
        the ring is not re-sent in a loop. (Keys left out of a refresh had
        more than margin plus horizon of room, so in a graph that fits that
        wait costs them at most the refresh's own envelopes of their margin.)
        """
        oldest = self.ages.oldest()
        if oldest is None:
            return math.inf
        target = oldest + self.capacity - 1 - self.margin
        if self._last_refresh is not None:
            target = max(target, self._last_refresh + self.horizon)
        return self.numbers.when(target, now, following)

    def due(self, now: float, following: bool) -> bool:
        return self.due_at(now, following) <= now

    def plan(self, now: float, following: bool) -> Refresh[K]:
        """Split the tracked keys: those within margin plus horizon of eviction, and the rest."""
        estimate = self.numbers.estimate(now, following)
        threshold = self.margin + self.horizon
        urgent: list[K] = []
        filler: list[K] = []
        for key in self.ages.by_age():
            seq = self._seq(key)
            (urgent if room(seq, estimate, self.capacity) <= threshold else filler).append(key)
        return Refresh(urgent, filler)

    def refreshed(self, end: int) -> None:
        """A refresh went through; `end`: the newest number once its last envelope was answered."""
        self._last_refresh = end

    def _seq(self, key: K) -> int:
        seq = self.ages.get(key)
        if seq is None:
            raise KeyError(key)
        return seq

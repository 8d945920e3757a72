"""What changed and is not yet on the server: dirty keys, when each changed, the debounce window.

`Pending` is the emitter's to-do list. The watch layer's changes land here;
a flush takes them out, and gives them back if it did not go through. Each
key remembers when it first changed, for the change-to-ack latency; keys
taken into a flush are *in flight*, so a change made meanwhile starts a
fresh clock. Besides single keys it records that *everything* must be
compared (a full diff: after a snapshot check, a takeover, a lost flow) and
that the next flush should start at once rather than at the window's end.
"""

from __future__ import annotations

from collections.abc import Iterable

from flux_adapter.emit.rejections import Key
from mapper import Keys


def each_key(keys: Keys) -> list[Key]:
    """The node ids and relationship keys of `keys`, as one list."""
    return [*keys.nodes, *keys.rels]


class Pending:
    def __init__(self, emit_interval: float) -> None:
        """`emit_interval`: the debounce window (s); it opens at a change and is never extended."""
        self._emit_interval = emit_interval
        self._dirty = Keys()
        self._arrived: dict[Key, float] = {}
        self._inflight: dict[Key, float] = {}
        self._window: float | None = None
        self._now = False
        # The previous leader, or a previous run, may have left anything on
        # the server: the first flush compares everything.
        self._full = True

    @property
    def window(self) -> float | None:
        """When the open debounce window ends (s, on the emitter's clock); `None` when closed."""
        return self._window

    @property
    def full(self) -> bool:
        """A full diff is owed: every key is compared, not only the changed ones."""
        return self._full

    @property
    def idle(self) -> bool:
        """Nothing to send: no changed key, no open window, no flush asked, no full diff owed."""
        return not (self._dirty or self._window is not None or self._now or self._full)

    def count(self) -> int:
        """Keys changed and not yet acknowledged, in flight included."""
        return len(self._arrived) + len(self._inflight)

    def due(self, now: float) -> bool:
        """A flush should start: one was asked for, or the window has ended by `now`."""
        return self._now or (self._window is not None and now >= self._window)

    def changed(self, keys: Keys, now: float) -> bool:
        """Keys the desired graph changed at `now`; true when this opened the window."""
        for key in each_key(keys):
            self._arrived.setdefault(key, now)
        self._dirty.update(keys)
        return self.open_window(now)

    def open_window(self, now: float) -> bool:
        """Flush again one window after `now`, unless a window is open; true when it opened."""
        if self._window is not None:
            return False
        self._window = now + self._emit_interval
        return True

    def everything(self) -> None:
        """Owe a full diff, sent at once (a snapshot check came back, or the flow was lost)."""
        self._full = True
        self._now = True

    def flush_started(self) -> None:
        """A flush begins: the window and the request to flush now are used up."""
        self._window = None
        self._now = False

    def full_sent(self) -> None:
        """A full diff went through: only changed keys are owed again."""
        self._full = False

    def take(self, keys: Keys) -> Keys:
        """Take these of the dirty keys into a flush (a copy); they are in flight until settled."""
        taken = Keys(
            nodes=set(keys.nodes) & self._dirty.nodes, rels=set(keys.rels) & self._dirty.rels
        )
        self._dirty.nodes -= taken.nodes
        self._dirty.rels -= taken.rels
        for key in each_key(taken):
            arrived = self._arrived.pop(key, None)
            if arrived is not None:
                self._inflight[key] = arrived
        return taken

    def take_all(self) -> Keys:
        """Take every dirty key into a flush."""
        return self.take(self._dirty)

    def give_back(self, taken: Keys) -> None:
        """The flush did not go through: its keys are dirty again, keeping their first change."""
        self._dirty.update(taken)
        for key, arrived in self._inflight.items():
            self._arrived[key] = min(arrived, self._arrived.get(key, arrived))
        self._inflight.clear()

    def acknowledged(self, keys: Iterable[Key], now: float) -> list[float]:
        """Keys the server acknowledged at `now`: how long each in-flight one took (s)."""
        took: list[float] = []
        for key in keys:
            arrived = self._inflight.pop(key, None)
            if arrived is not None:
                took.append(now - arrived)
        return took

    def settled(self, keys: Iterable[Key]) -> None:
        """Keys set aside (refused, too large): no longer in flight, and not measured."""
        for key in keys:
            self._inflight.pop(key, None)

    def delivered(self) -> None:
        """The flush went through: nothing it took is in flight any more."""
        self._inflight.clear()

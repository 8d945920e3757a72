"""The emitter's to-do list: which keys changed, when, and when the next flush is due."""

from __future__ import annotations

from flux_adapter.emit.pending import Pending
from mapper import Keys

REL = ("eu/a", "eu/b", "finish-to-start")


def started() -> Pending:
    """A list past its first full diff, with nothing changed."""
    pending = Pending(emit_interval=0.2)
    pending.flush_started()
    pending.full_sent()
    return pending


def test_a_new_list_owes_a_full_diff() -> None:
    pending = Pending(emit_interval=0.2)

    assert pending.full
    assert not pending.idle


def test_a_change_opens_a_window_that_ends_one_interval_later() -> None:
    pending = started()

    assert pending.changed(Keys(nodes={"eu/a"}), now=10.0)

    assert pending.window == 10.2
    assert not pending.due(10.1)
    assert pending.due(10.2)


def test_later_changes_never_extend_the_window() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu/a"}), now=10.0)

    assert not pending.changed(Keys(nodes={"eu/b"}), now=10.15)

    assert pending.window == 10.2


def test_a_flush_asked_for_at_once_is_due_before_any_window() -> None:
    pending = started()

    pending.everything()

    assert pending.due(0.0)
    assert pending.full


def test_taking_keys_leaves_the_others_dirty() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu", "eu/a"}, rels={REL}), now=1.0)

    taken = pending.take(Keys(nodes={"eu"}))

    assert taken == Keys(nodes={"eu"})
    assert pending.take_all() == Keys(nodes={"eu/a"}, rels={REL})


def test_a_key_never_changed_is_not_taken() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu/a"}), now=1.0)

    assert pending.take(Keys(nodes={"eu"})) == Keys()


def test_the_latency_runs_from_the_first_change_to_the_acknowledgement() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu/a"}), now=1.0)
    pending.changed(Keys(nodes={"eu/a"}), now=1.5)
    pending.take_all()

    assert pending.acknowledged(["eu/a"], now=3.0) == [2.0]
    assert pending.count() == 0


def test_keys_given_back_keep_their_first_change_time() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu/a"}), now=1.0)
    taken = pending.take_all()
    pending.changed(Keys(nodes={"eu/a"}), now=2.0)

    pending.give_back(taken)

    assert pending.take_all() == Keys(nodes={"eu/a"})
    assert pending.acknowledged(["eu/a"], now=4.0) == [3.0]


def test_a_change_during_a_flush_waits_for_the_next_one_with_its_own_time() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu/a"}), now=1.0)
    pending.flush_started()
    pending.take_all()
    pending.changed(Keys(nodes={"eu/a"}), now=2.0)

    assert pending.acknowledged(["eu/a"], now=3.0) == [2.0]
    pending.delivered()
    assert pending.take_all() == Keys(nodes={"eu/a"})
    assert pending.acknowledged(["eu/a"], now=3.5) == [1.5]


def test_keys_set_aside_are_not_measured() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu/a"}), now=1.0)
    pending.take_all()

    pending.settled(["eu/a"])

    assert pending.acknowledged(["eu/a"], now=2.0) == []
    assert pending.count() == 0


def test_a_list_is_idle_once_the_flush_took_everything() -> None:
    pending = started()
    pending.changed(Keys(nodes={"eu/a"}), now=1.0)
    pending.flush_started()
    pending.take_all()

    assert pending.idle
    assert pending.count() == 1

"""The ring arithmetic, on literal sequences of numbers: room, margin, losses, ages, refreshes."""

from __future__ import annotations

import math

import pytest

from flux_adapter.emit.ring import (
    Ages,
    FlowNumbers,
    Ring,
    horizon,
    learned_capacity,
    margin,
    oldest_possible,
    room,
)


def test_room_counts_the_envelopes_left_before_eviction() -> None:
    # Ring of 4: after envelope 10, envelopes 7..10 are held.
    assert room(7, 10, 4) == 0
    assert room(10, 10, 4) == 3
    assert room(6, 10, 4) == -1
    # Three more envelopes (11, 12, 13) and 10 is the oldest held; the fourth evicts it.
    assert room(10, 13, 4) == 0


def test_the_margin_is_a_quarter_and_the_horizon_half_the_rest() -> None:
    assert margin(4096) == 1024
    assert horizon(4096) == 1535
    assert margin(1024) == 256
    assert horizon(1024) == 383
    assert margin(4) == 1
    assert horizon(4) == 1


def test_an_unknown_key_counts_as_the_oldest_envelope_still_held() -> None:
    assert oldest_possible(10_000, 4096) == 5905
    assert room(oldest_possible(10_000, 4096), 10_000, 4096) == 0
    assert oldest_possible(0, 4096) == 1
    assert oldest_possible(100, 4096) == 1


def test_numbers_rise_and_a_lower_one_is_told_apart_without_being_taken() -> None:
    numbers = FlowNumbers()
    assert not numbers.heard(5, at_least=1, now=0.0)
    assert not numbers.heard(9, at_least=6, now=1.0)
    assert numbers.latest == 9
    # A stream opened when 9 was the newest can say 9 again, not less.
    assert not numbers.heard(9, at_least=9, now=2.0)
    epoch = numbers.epoch
    # A POST sent after 9 was seen answers 3: the count may have started again.
    assert numbers.heard(3, at_least=10, now=3.0)
    assert (numbers.latest, numbers.epoch) == (9, epoch)


def test_a_restart_believed_starts_a_new_count_at_its_number() -> None:
    numbers = FlowNumbers()
    numbers.heard(9, at_least=0, now=0.0)
    epoch = numbers.epoch

    numbers.restart(3, now=1.0)

    assert (numbers.latest, numbers.epoch) == (3, epoch + 1)


def test_a_late_stream_event_below_a_post_answer_is_not_a_loss() -> None:
    numbers = FlowNumbers()
    numbers.heard(105, at_least=101, now=0.0)  # our POST's answer
    # The stream is behind: its next event is 100, after its previous 99.
    assert not numbers.heard(100, at_least=99, now=0.1)
    assert numbers.latest == 105


def test_the_rate_is_the_highest_seen_between_samples_a_second_apart() -> None:
    numbers = FlowNumbers()
    for second, seq in enumerate([10, 20, 30, 130, 140]):
        numbers.heard(seq, at_least=0, now=float(second))
    assert numbers.rate() == 100.0
    # Within a second of the last sample: no new sample.
    numbers.heard(1000, at_least=0, now=4.5)
    assert numbers.rate() == 100.0


def test_the_rate_forgets_what_is_older_than_its_window() -> None:
    numbers = FlowNumbers()
    numbers.heard(0, at_least=0, now=0.0)
    numbers.heard(1000, at_least=0, now=1.0)
    for second in range(2, 200):
        numbers.heard(1000 + second, at_least=0, now=float(second))
    assert numbers.rate() == 1.0


def test_the_estimate_extrapolates_only_when_the_stream_is_not_followed() -> None:
    numbers = FlowNumbers()
    numbers.heard(100, at_least=0, now=0.0)
    numbers.heard(110, at_least=0, now=1.0)
    assert numbers.estimate(3.0, following=True) == 110
    assert numbers.estimate(3.0, following=False) == 130
    assert numbers.when(150, now=3.0, following=False) == 5.0
    assert numbers.when(150, now=3.0, following=True) == math.inf
    assert numbers.when(120, now=3.0, following=False) == 3.0


def test_forgetting_starts_a_new_count() -> None:
    numbers = FlowNumbers()
    numbers.heard(500, at_least=0, now=0.0)
    epoch = numbers.epoch
    numbers.forget()
    assert numbers.latest == 0
    assert numbers.epoch == epoch + 1
    assert not numbers.heard(2, at_least=1, now=1.0)


def test_ages_keep_the_oldest_at_hand() -> None:
    ages: Ages[str] = Ages()
    assert ages.oldest() is None
    ages.set(["a", "b"], 3)
    ages.set(["c"], 5)
    assert ages.oldest() == 3
    ages.set(["a"], 7)
    assert ages.oldest() == 3
    ages.set(["b"], 8)
    assert ages.oldest() == 5
    ages.drop(["c"])
    assert ages.oldest() == 7
    assert ages.by_age() == ["a", "b"]
    # A number given again after every key left it.
    ages.set(["d"], 3)
    assert ages.oldest() == 3
    assert len(ages) == 3
    ages.clear()
    assert ages.oldest() is None


def test_a_refresh_falls_due_when_the_oldest_room_reaches_the_margin() -> None:
    ring: Ring[str] = Ring(16)  # margin 4, horizon 5
    ring.acknowledged(["region", "a"], [], seq=1, mark=0)
    ring.numbers.heard(1, at_least=1, now=0.0)
    ring.numbers.heard(11, at_least=2, now=1.0)
    assert ring.headroom(1.0, following=True) == 5
    assert not ring.due(1.0, following=True)
    ring.numbers.heard(12, at_least=12, now=1.1)
    assert ring.headroom(1.1, following=True) == 4
    assert ring.due(1.1, following=True)


def test_a_refresh_takes_what_falls_due_within_the_horizon_oldest_first() -> None:
    ring: Ring[str] = Ring(16)  # margin 4, horizon 5: threshold 9
    ring.acknowledged(["a"], [], seq=1, mark=0)
    ring.acknowledged(["b"], [], seq=4, mark=1)
    ring.acknowledged(["c"], [], seq=9, mark=4)
    ring.numbers.heard(12, at_least=10, now=0.0)
    # Rooms: a 3, b 6, c 11.
    plan = ring.plan(0.0, following=True)
    assert plan.urgent == ["a", "b"]
    assert plan.filler == ["c"]


def test_the_re_upserted_keys_are_no_longer_due() -> None:
    ring: Ring[str] = Ring(16)
    ring.acknowledged(["a", "b"], [], seq=1, mark=0)
    ring.numbers.heard(12, at_least=2, now=0.0)
    assert ring.due(0.0, following=True)
    ring.numbers.heard(13, at_least=13, now=0.1)
    ring.acknowledged(["a", "b"], [], seq=13, mark=12)
    ring.refreshed(13)
    assert not ring.due(0.1, following=True)
    assert ring.headroom(0.1, following=True) == 15


def test_a_graph_larger_than_the_ring_is_not_refreshed_in_a_loop() -> None:
    ring: Ring[str] = Ring(8)  # margin 2, horizon 2
    ring.acknowledged(["a"], [], seq=1, mark=0)
    ring.numbers.heard(6, at_least=2, now=0.0)
    assert ring.due(0.0, following=True)
    # The refresh takes six envelopes, 7 to 12: the first is at the margin again at once.
    for seq, key in enumerate("abcdef", start=7):
        ring.acknowledged([key], [], seq=seq, mark=seq - 1)
    ring.numbers.heard(12, at_least=7, now=0.1)
    ring.refreshed(12)
    assert ring.headroom(0.1, following=True) == 2
    # Not again before a horizon (2 envelopes) has passed since that refresh ended.
    assert not ring.due(0.1, following=True)
    ring.numbers.heard(13, at_least=13, now=0.2)
    assert not ring.due(0.2, following=True)
    ring.numbers.heard(14, at_least=14, now=0.3)
    assert ring.due(0.3, following=True)


def test_unknown_keys_count_as_the_oldest() -> None:
    ring: Ring[str] = Ring(16)
    ring.numbers.heard(100, at_least=1, now=0.0)
    ring.acknowledged(["fresh"], [], seq=100, mark=99)
    ring.unknown(["from-the-snapshot"], mark=100)
    assert ring.ages.get("from-the-snapshot") == 85
    assert ring.headroom(0.0, following=True) == 0
    assert ring.plan(0.0, following=True).urgent == ["from-the-snapshot"]


def test_unknown_keys_of_a_young_flow_wait_until_it_grows() -> None:
    ring: Ring[str] = Ring(16)
    ring.unknown(["a"], mark=0)
    ring.numbers.heard(5, at_least=1, now=0.0)
    assert not ring.due(0.0, following=True)
    ring.numbers.heard(11, at_least=6, now=1.0)
    assert not ring.due(1.0, following=True)
    ring.numbers.heard(12, at_least=11, now=2.0)
    assert ring.due(2.0, following=True)


def test_an_envelope_without_a_number_counts_from_the_newest_known() -> None:
    ring: Ring[str] = Ring(16)
    ring.acknowledged(["a"], [], seq=None, mark=40)
    assert ring.ages.get("a") == 41


def test_deleted_keys_are_no_longer_tracked() -> None:
    ring: Ring[str] = Ring(16)
    ring.acknowledged(["a", "b"], [], seq=1, mark=0)
    ring.acknowledged([], ["a"], seq=2, mark=1)
    assert ring.ages.tracked() == ["b"]


def test_without_the_stream_a_refresh_is_due_when_the_rate_says_so() -> None:
    ring: Ring[str] = Ring(16)  # due when the newest reaches 1 + 15 - 4 = 12
    ring.acknowledged(["a"], [], seq=1, mark=0)
    ring.numbers.heard(1, at_least=1, now=0.0)
    ring.numbers.heard(3, at_least=2, now=1.0)
    assert ring.due_at(1.0, following=False) == 5.5
    assert ring.due_at(1.0, following=True) == math.inf
    assert ring.due(5.5, following=False)


def test_a_lost_flow_or_a_takeover_forgets_every_number() -> None:
    ring: Ring[str] = Ring(16)
    ring.acknowledged(["a"], [], seq=5, mark=4)
    ring.numbers.heard(5, at_least=5, now=0.0)
    ring.lost()
    assert ring.headroom(0.0, following=True) is None
    ring.acknowledged(["a"], [], seq=1, mark=0)
    ring.forget()
    assert ring.ages.oldest() is None
    assert ring.numbers.latest == 0


def test_a_ring_too_small_for_the_arithmetic_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        Ring(3)


def test_the_first_probe_comes_at_a_quarter_of_the_ring_the_last_before_the_refresh() -> None:
    ring: Ring[str] = Ring(64)
    ring.acknowledged(["a"], [], seq=10, mark=9)
    ring.numbers.heard(10, at_least=10, now=0.0)

    ring.numbers.heard(25, at_least=10, now=1.0)
    assert ring.probe_at(1.0, following=True) == math.inf  # 15 old: not yet
    ring.numbers.heard(26, at_least=25, now=2.0)
    assert ring.probe_at(2.0, following=True) == 2.0  # 16 old: a quarter of 64

    ring.probed()  # a check looked, and found the key held at 16
    ring.held_at(16)
    assert ring.probe_at(2.0, following=True) == math.inf
    ring.numbers.heard(48, at_least=26, now=3.0)
    assert ring.probe_at(3.0, following=True) == 3.0  # 38 old: 60 %, before the refresh at 48


def test_a_ring_found_held_at_every_probe_is_not_probed_again_until_the_flow_is_lost() -> None:
    ring: Ring[str] = Ring(64)
    ring.acknowledged(["a"], [], seq=1, mark=0)
    ring.numbers.heard(60, at_least=1, now=0.0)

    ring.held_at(59)

    assert ring.verified
    assert ring.probe_at(0.0, following=True) == math.inf
    ring.lost()
    assert not ring.verified


def test_a_smaller_ring_is_bounded_by_the_newest_key_gone() -> None:
    assert learned_capacity(1000, missing=[100, 180], held=[200, 900]) == 820


def test_keys_gone_out_of_order_or_none_held_teach_nothing() -> None:
    assert learned_capacity(1000, missing=[300], held=[200, 900]) is None
    assert learned_capacity(1000, missing=[100, 180], held=[]) is None

"""services/bounded.py: the newest entries kept within a weight budget, oldest dropped first."""

from __future__ import annotations

import pytest

from services.bounded import Bounded


def test_the_oldest_go_first_once_the_budget_is_passed():
    kept: Bounded[str] = Bounded(10, weigh=len)
    kept.put("a", "xxxx")  # 4
    kept.put("b", "xxxx")  # 4 + 4 = 8
    kept.put("c", "xxx")  # 8 + 3 = 11 > 10: "a" goes, 7 left
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (None, "xxxx", "xxx")
    assert (len(kept), kept.total) == (2, 7)


def test_putting_a_key_again_makes_it_the_newest_and_reweighs_it():
    kept: Bounded[str] = Bounded(10, weigh=len)
    kept.put("a", "xxxx")
    kept.put("b", "xxxx")
    kept.put("a", "xx")  # 4 + 2 = 6: "a" now after "b"
    kept.put("c", "xxxxx")  # 6 + 5 = 11 > 10: the oldest is now "b", 2 + 5 = 7 left
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == ("xx", None, "xxxxx")
    assert kept.total == 7


def test_the_newest_stays_even_over_the_budget():
    kept: Bounded[str] = Bounded(3, weigh=len)
    kept.put("a", "x")
    kept.put("big", "xxxxxxxx")  # 8 alone is over 3: everything older goes, it stays
    assert (kept.get("a"), kept.get("big"), len(kept), kept.total) == (None, "xxxxxxxx", 1, 8)


def test_a_budget_below_one_is_refused():
    with pytest.raises(ValueError, match="budget must be at least 1, got 0"):
        Bounded(0)

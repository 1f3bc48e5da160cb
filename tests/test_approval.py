"""bot.approval: the chain a bill's amount needs, and the supplier's tolerance."""
from __future__ import annotations

from decimal import Decimal

from bot.approval import plan_chain, within_tolerance
from bot.buyer_config import ApprovalSettings, StepRule, Tolerance
from parsers.records import Line

RULES = ApprovalSettings("net", (StepRule("finance", ("fin@x.test",), Decimal(5000)),
                                 StepRule("CFO", ("cfo@x.test",), Decimal(25000))))
ORDER = (Line("BLT-M8", "Hex bolt", Decimal(500), "pcs", Decimal("0.12"), Decimal(19)),
         Line("GLV-L", "Gloves", Decimal(40), "pair", Decimal("3.90"), Decimal(19)))
TOLERANCE = Tolerance(price_up_percent=Decimal(2), quantity_down_percent=Decimal(10), total_up_percent=Decimal(1))


def test_the_buyers_always_then_each_step_above_its_threshold() -> None:
    assert [s.name for s in plan_chain(Decimal(5000), RULES)] == ["buyers"]
    assert [s.name for s in plan_chain(Decimal("5000.01"), RULES)] == ["buyers", "finance"]
    chain = plan_chain(Decimal(30000), RULES)
    assert [(s.number, s.name, s.approvers) for s in chain] == [(1, "buyers", ()), (2, "finance", ("fin@x.test",)),
                                                                 (3, "CFO", ("cfo@x.test",))]


def test_a_bill_as_ordered_is_within_any_tolerance() -> None:
    verdict = within_tolerance(ORDER, ORDER, Tolerance())
    assert verdict.within and verdict.reasons == ("every line exactly as ordered",)


def test_small_price_rise_and_short_quantity_are_within_and_say_so() -> None:
    bill = (Line("BLT-M8", "Hex bolt", Decimal(450), "pcs", Decimal("0.1224"), Decimal(19)), ORDER[1])
    verdict = within_tolerance(ORDER, bill, TOLERANCE)
    assert verdict.within
    assert verdict.reasons == ("BLT-M8: quantity 500 → 450 (−10.0 %, within the 10 % allowed)",
                               "BLT-M8: unit price 0.12 → 0.1224 (+2.0 %, within the 2 % allowed)")


def test_just_outside_added_removed_or_above_the_order_is_not() -> None:
    pricier = (Line("BLT-M8", "Hex bolt", Decimal(500), "pcs", Decimal("0.1225"), Decimal(19)), ORDER[1])
    verdict = within_tolerance(ORDER, pricier, TOLERANCE)
    assert not verdict.within
    assert "BLT-M8: unit price 0.12 → 0.1225 (+2.1 %, more than the 2 % allowed)" in verdict.reasons
    freight = (*ORDER, Line("FRT", "Freight", Decimal(1), "lot", Decimal(0), Decimal(19)))
    assert within_tolerance(ORDER, freight, TOLERANCE).reasons == ("line added: FRT",)
    assert within_tolerance(ORDER, ORDER[:1], TOLERANCE).reasons == ("line removed: GLV-L",)
    more = (Line("BLT-M8", "Hex bolt", Decimal(501), "pcs", Decimal("0.12"), Decimal(19)), ORDER[1])
    assert "BLT-M8: quantity 500 → 501 (more than ordered)" in within_tolerance(ORDER, more, TOLERANCE).reasons
    assert not within_tolerance(ORDER, pricier, Tolerance(Decimal(5))).within  # the total may not rise by default

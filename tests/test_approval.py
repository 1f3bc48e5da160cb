"""bot.approval: the chain a bill's amount needs, and the supplier's tolerance."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.app import App, utc_now
from bot.chain import run_auto_approvals
from bot.approval import plan_chain, within_tolerance
from bot.buyer_config import ApprovalSettings, StepRule, Tolerance
from parsers.records import Line
from storage import queries
from storage.db import session
from storage.models import OrderStatus, Revision, RevisionStatus
from tests.test_notify import app as notify_app
from tests.test_notify import order_of

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


def test_a_key_repeated_on_either_side_is_never_within_tolerance() -> None:
    """Lines are paired by SKU: with a key twice, a pair could hide a removed line or an extra
    quantity, so tolerance refuses rather than guess which line answers which."""
    twice = (ORDER[0], ORDER[0], ORDER[1])
    verdict = within_tolerance(twice, (ORDER[0], ORDER[1]), TOLERANCE)
    assert not verdict.within
    assert verdict.reasons == ("BLT-M8: 2 order lines with this key: a decision is needed",)
    extra = (Line("BLT-M8", "Hex bolt", Decimal(5), "pcs", Decimal("0.12"), Decimal(19)), *ORDER)
    verdict = within_tolerance(ORDER, extra, Tolerance(total_up_percent=Decimal(5)))
    assert not verdict.within and verdict.reasons == ("BLT-M8: 2 bill lines with this key: a decision is needed",)
    assert not within_tolerance(twice, twice, TOLERANCE).within


def test_a_changed_unit_is_outside_tolerance() -> None:
    boxes = (Line("BLT-M8", "Hex bolt", Decimal(500), "box", Decimal("0.12"), Decimal(19)), ORDER[1])
    verdict = within_tolerance(ORDER, boxes, TOLERANCE)
    assert not verdict.within and verdict.reasons == ("BLT-M8: unit pcs → box",)
    same = (Line("BLT-M8", "Hex bolt", Decimal(500), " PCS", Decimal("0.12"), Decimal(19)), ORDER[1])
    assert within_tolerance(ORDER, same, TOLERANCE).within  # the same unit, written differently


def test_the_limits_compare_the_exact_percentage_and_only_the_text_rounds() -> None:
    order = (Line("X", "x", Decimal(1), "pcs", Decimal(100), Decimal(0)),)
    bill = (Line("X", "x", Decimal(1), "pcs", Decimal("102.04"), Decimal(0)),)
    verdict = within_tolerance(order, bill, Tolerance(price_up_percent=Decimal(2), total_up_percent=Decimal(5)))
    assert not verdict.within
    assert verdict.reasons == ("X: unit price 100 → 102.04 (+2.04 %, more than the 2 % allowed)",)
    total = within_tolerance(order, bill, Tolerance(price_up_percent=Decimal(5), total_up_percent=Decimal(2)))
    assert total.reasons == ("total 100.00 → 102.04 (+2.04 %, more than the 2 % allowed)",)
    short = (Line("X", "x", Decimal("0.8995"), "pcs", Decimal(100), Decimal(0)),)
    verdict = within_tolerance(order, short, Tolerance(quantity_down_percent=Decimal(10)))
    assert verdict.reasons == ("X: quantity 1 → 0.8995 (−10.05 %, more than the 10 % allowed)",)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    return notify_app.__wrapped__(tmp_path, monkeypatch)  # a bot with a database, no mail server


def test_each_due_auto_approval_commits_alone_and_one_failing_does_not_hold_the_others(
        app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    refs = [order_of(app), order_of(app)]
    past = utc_now() - timedelta(hours=1)
    with session(app.engine) as s:
        for ref in refs:
            s.add(Revision(order_id=queries.order_by_ref(s, ref).id, number=1, status=RevisionStatus.SUBMITTED,
                           created_at=past, auto_approve_at=past, auto_approval="every line exactly as ordered"))
        s.commit()
    approved = app.notifier.approved

    def broken_for_the_first(s, order, *args, **kwargs):
        if order.ref == refs[0]:
            raise RuntimeError("template missing")
        return approved(s, order, *args, **kwargs)

    monkeypatch.setattr(app.notifier, "approved", broken_for_the_first)
    assert run_auto_approvals(app) == 1
    assert "auto-approval failed" in caplog.text
    with session(app.engine) as s:
        statuses = [queries.revisions_of(s, queries.order_by_ref(s, ref).id)[0].status for ref in refs]
        assert statuses == [RevisionStatus.SUBMITTED, RevisionStatus.APPROVED]  # the first is tried again next run
        assert queries.order_by_ref(s, refs[0]).status is not OrderStatus.APPROVED

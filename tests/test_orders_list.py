"""ORDERS to the bot's own address: a supplier's list of their orders, over the real servers."""
from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid

from sqlmodel import select

from bot.devmail.clients import Party
from storage.db import session
from storage.models import OrderStatus, PurchaseOrder
from tests.conftest import World

MIX = ([OrderStatus.NEW] * 10 + [OrderStatus.REJECTED] * 5 + [OrderStatus.AWAITING_APPROVAL] * 5
       + [OrderStatus.APPROVED] * 5 + [OrderStatus.PAID] * 3 + [OrderStatus.CANCELLED] * 2)


def write_to_bot(world: World, party: Party, text: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = party.address, world.bot, "my orders"
    message["Message-ID"] = make_msgid(domain="client.test")
    message.set_content(text)
    party.send(message)


def thirty_orders(world: World) -> list[str]:
    refs = [world.order() for _ in MIX]
    world.poll()  # each order mailed: each has its supplier token
    with session(world.app.engine) as s:
        for ref, status in zip(refs, MIX):
            order = s.exec(select(PurchaseOrder).where(PurchaseOrder.ref == ref)).one()
            order.status = status
        s.commit()
    return refs


def test_a_supplier_gets_their_open_orders_with_what_waits_and_an_address_for_each(world: World) -> None:
    refs = thirty_orders(world)
    write_to_bot(world, world.supplier, "ORDERS")
    world.poll()

    answer = world.supplier.wait_for("Your open orders with ACME GmbH: 25, 20 waiting for you")
    listed = re.findall(r"(PO-\d{4}-\d{4})  ", answer.text)
    assert listed == refs[:25]  # oldest first; paid and cancelled left out
    assert "bill rejected: waiting for your correction" in answer.text
    assert answer.attachment("orders.xlsx") is not None and "mailto:" in answer.html
    new_order = world.supplier.wait_for(f"[{refs[3]}] New order")
    assert f"reply to: {new_order.message['Reply-To']}" in answer.text  # lands in that order's thread

    first_address = re.search(r"reply to: (\S+)", answer.text).group(1)
    question = EmailMessage()
    question["From"], question["To"], question["Subject"] = world.supplier.address, first_address, "question"
    question["Message-ID"] = make_msgid(domain="client.test")
    question.set_content("Can we deliver the bolts in two parts?")
    world.supplier.send(question)
    world.poll()
    world.buyer.wait_for(f"[{refs[0]}] Question from {world.supplier.address}")  # the oldest order's thread


def test_orders_all_lists_the_closed_ones_too(world: World) -> None:
    refs = thirty_orders(world)
    write_to_bot(world, world.supplier, "orders all")
    world.poll()
    answer = world.supplier.wait_for("Your orders with ACME GmbH: 30, 20 waiting for you")
    assert re.findall(r"(PO-\d{4}-\d{4})  ", answer.text) == refs
    assert "paid" in answer.text and "cancelled" in answer.text


def test_a_stranger_learns_nothing(world: World) -> None:
    refs = thirty_orders(world)
    write_to_bot(world, world.stranger, "ORDERS")
    world.poll()
    answer = world.stranger.wait_for("Not processed")
    assert "write ORDERS from the address our orders are sent to" in answer.text
    assert not any(ref in answer.text for ref in refs) and "PO-" not in answer.subject

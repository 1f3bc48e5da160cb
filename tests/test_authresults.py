"""parsers.authresults: only the pinned server's verdict counts, and a forged copy spoils it."""
from __future__ import annotations

from parsers.authresults import authserv_id, dmarc_verdict

OURS = "mx.example.test; spf=pass smtp.mailfrom=example.test; dkim=pass header.d=example.test; dmarc=pass (p=reject) header.from=example.test"
FAKE_SAME_ID = "mx.example.test; dmarc=pass header.from=example.test"
FAKE_OTHER = "evil.test; dmarc=pass header.from=example.test"
M365 = "spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=example.test; dkim=pass header.d=example.test;dmarc=pass action=none header.from=example.test;compauth=pass reason=100"


def test_an_aligned_pass_from_our_server_passes() -> None:
    assert dmarc_verdict([OURS], "mx.example.test", "anna@example.test").passed


def test_headers_from_other_servers_are_ignored() -> None:
    verdict = dmarc_verdict([FAKE_OTHER], "mx.example.test", "anna@example.test")
    assert not verdict.passed and verdict.reason == "no Authentication-Results from mx.example.test"
    assert dmarc_verdict([FAKE_OTHER, OURS], "mx.example.test", "anna@example.test").passed


def test_a_second_header_claiming_our_id_above_or_below_spoils_the_verdict() -> None:
    for headers in ([FAKE_SAME_ID, OURS], [OURS, FAKE_SAME_ID]):
        verdict = dmarc_verdict(headers, "mx.example.test", "anna@example.test")
        assert not verdict.passed and "2 Authentication-Results headers claim" in verdict.reason


def test_fail_missing_and_misaligned_results_do_not_pass() -> None:
    failed = OURS.replace("dmarc=pass", "dmarc=fail")
    assert dmarc_verdict([failed], "mx.example.test", "anna@example.test").reason == "DMARC fail"
    assert dmarc_verdict(["mx.example.test; spf=pass"], "mx.example.test", "a@example.test").reason == "DMARC missing"
    assert "not for the From domain" in dmarc_verdict([OURS], "mx.example.test", "anna@elsewhere.test").reason


def test_microsoft_365_headers_without_authserv_id_are_read_leniently() -> None:
    assert authserv_id(M365) == "" and authserv_id(OURS) == "mx.example.test"
    assert dmarc_verdict([M365], "microsoft365", "anna@example.test").passed
    assert not dmarc_verdict([M365], "mx.example.test", "anna@example.test").passed

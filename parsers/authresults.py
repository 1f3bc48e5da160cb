"""Authentication-Results (RFC 8601): did the operator's own server see an aligned DMARC pass?

Only headers carrying the configured authserv-id count (a sender can add any
header it likes below the receiving server's). Two headers claiming that id
means one was forged: nothing is trusted then. Parsing is lenient on purpose:
Microsoft 365 writes the header without an authserv-id (configure
"microsoft365" for that), which strict parsers such as `authres` reject.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

NO_AUTHSERV_ID = "microsoft365"
_COMMENT = re.compile(r"\([^()]*\)")
_DMARC = re.compile(r"(?:^|[;\s])dmarc\s*=\s*([a-z]+)", re.I)
_HEADER_FROM = re.compile(r"header\.from\s*=\s*\"?([^\s;\"]+)", re.I)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def authserv_id(value: str) -> str:
    """The id before the first ';', or "" when the header starts with a method result (Microsoft 365)."""
    head = _COMMENT.sub("", value).strip().split(";", 1)[0].strip()
    first = head.split()[0] if head.split() else ""
    return "" if "=" in first else first.lower()


def dmarc_verdict(headers: Sequence[str], server_id: str, from_address: str) -> Verdict:
    wanted = "" if server_id.lower() == NO_AUTHSERV_ID else server_id.lower()
    ours = [value for value in headers if authserv_id(value) == wanted]
    if not ours:
        return Verdict(False, f"no Authentication-Results from {server_id}")
    if len(ours) > 1:
        return Verdict(False, f"{len(ours)} Authentication-Results headers claim to be from {server_id}")
    text = _COMMENT.sub("", ours[0])
    result = _DMARC.search(text)
    if result is None or result.group(1).lower() != "pass":
        return Verdict(False, f"DMARC {result.group(1).lower() if result else 'missing'}")
    header_from = _HEADER_FROM.search(text)
    domain = from_address.rpartition("@")[2].lower()
    if header_from is None or header_from.group(1).lower().rstrip(".") != domain:
        return Verdict(False, f"DMARC pass is not for the From domain {domain}")
    return Verdict(True, "DMARC pass, aligned with From")

"""bench.replies: the corpus score, and the reader's targets on the corpora when they are present."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import replies


def _write_case(root: Path, corpus: str, name: str, email: str, expected: str) -> None:
    (root / corpus).mkdir(parents=True, exist_ok=True)
    (root / corpus / f"{name}.email.txt").write_text(email, encoding="utf-8")
    (root / corpus / f"{name}.expected.txt").write_text(expected, encoding="utf-8")


def test_the_bench_skips_cleanly_without_corpora(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replies.main(["--corpora", str(tmp_path / "absent")]) == 0
    assert "skipped" in capsys.readouterr().out


def test_a_leak_and_a_wrong_first_line_are_counted(tmp_path: Path) -> None:
    _write_case(tmp_path, "own", "good", "Fine\n\nOn Mon, Bob <b@x.test> wrote:\n> APPROVE\n", "Fine")
    _write_case(tmp_path, "own", "leaky", "Fine\n\nSome history\n", "Fine")
    score = replies.score(replies.load_cases(tmp_path), replies.ours)
    assert (score.cases, score.exact, score.first, score.leak_cases) == (2, 1, 2, ["own/leaky"])


def test_approve_is_put_inside_the_quote_and_below_unquoted_history(tmp_path: Path) -> None:
    _write_case(tmp_path, "own", "quoted", "Fine\n\nOn Mon, Bob wrote:\n> one\n> two\n", "Fine")
    _write_case(tmp_path, "own", "outlook", "Fine\n\nFrom: Bob\nSent: Monday\n\nBody\n", "Fine")
    outlook, quoted = replies.load_cases(tmp_path)  # sorted by name
    assert "> one\n> APPROVE\n> two" in "\n".join(replies.quoted_approvals(quoted))
    assert any("Sent: Monday\n\nAPPROVE\nBody" in text for text in replies.quoted_approvals(outlook))
    assert not any(text.endswith("\nAPPROVE") for text in replies.quoted_approvals(quoted))
    assert replies.decision_safety([quoted, outlook]).false_decisions == 0


@pytest.mark.skipif(not replies.DEFAULT_CORPORA.is_dir(), reason="no reply corpora next to the repo")
def test_the_reader_meets_its_targets_on_the_corpora() -> None:
    cases = replies.load_cases(replies.DEFAULT_CORPORA)
    score = replies.score(cases, replies.ours)
    safety = replies.decision_safety(cases)
    assert score.leak_cases == []
    assert set(score.first_misses) <= set(replies.POLICY_DIFFERENCES)
    assert score.exact >= 0.9 * score.cases
    assert (safety.false_decisions, safety.reject_misses) == (0, 0)

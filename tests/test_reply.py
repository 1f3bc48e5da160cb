"""parsers.reply: only the new text counts, and the command is its first word."""
from __future__ import annotations

from pathlib import Path

import pytest

from parsers.reply import CommandKind, approval_condition, new_text, parse_command

QUOTED_REQUEST = "> Reply to this email with one of:\n>   APPROVE [note]\n>   REJECT <reason>\n"


@pytest.mark.parametrize("plain, expected", [
    (f"Approved!\n\nOn Mon, 3 Nov 2026 at 10:00, Bot <bot@x.test> wrote:\n{QUOTED_REQUEST}", "Approved!"),
    (f"\n\nOn Mon, 3 Nov 2026 at 10:00, Bot <bot@x.test> wrote:\n{QUOTED_REQUEST}", ""),
    (f"On Mon, 3 Nov 2026, Bot wrote:\n{QUOTED_REQUEST}\nSEND\n", "SEND"),
    (f"send\n\nSent from my iPhone\n\n> On 3 Nov 2026, at 10:00, Bot <b@x.test> wrote:\n> \n{QUOTED_REQUEST}", "send"),
    ("Genehmigt\n\nAm Mo., 3. Nov. 2026 um 10:00 Uhr schrieb Bot <bot@x.test>:\n> APPROVE\n", "Genehmigt"),
    ("Question about line 2?\n\n-- \nJohn Supplier\nACME Ltd\n", "Question about line 2?"),
    ("Hello\r\n\r\nFrom: Supplierbot <bot@x.test>\r\nSent: Monday, November 3, 2026 10:00 AM\r\nTo: Anna\r\n"
     "Subject: x\r\n\r\nReply APPROVE or REJECT\r\n", "Hello"),
    ("\r\n\r\n________________________________\r\nFrom: Bot <bot@x.test>\r\nSent: Monday\r\n\r\nAPPROVE\r\n", ""),
    ("Fine by me\n\n-----Original Message-----\nFrom: bot@x.test\nAPPROVE\n", "Fine by me"),
    ("FYI\n\n---------- Forwarded message ---------\nFrom: Bot\nAPPROVE\n", "FYI"),
    ("OK\n## Please type your reply above this line ##\nReply APPROVE\n", "OK"),
    ("On Mon, Bot wrote:\n> ## Please type your reply above this line ##\n> Reply APPROVE\n\nApprove\n", "Approve"),
])
def test_new_text_keeps_only_what_the_sender_wrote(plain: str, expected: str) -> None:
    assert new_text(plain) == expected


def test_html_only_replies_drop_blockquotes_and_outlook_history() -> None:
    gmail = ('<div dir="ltr">Looks right</div><div class="gmail_quote"><div>On Mon, Bot wrote:</div>'
             '<blockquote class="gmail_quote">APPROVE or REJECT</blockquote></div>')
    outlook = ('<p>Please wait</p><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">From: Bot</div>'
               '<div>Reply APPROVE</div>')
    assert new_text("", gmail) == "Looks right"
    assert new_text("", outlook) == "Please wait"
    assert new_text("", "<style>p{x:1}</style><p>Approve &amp; thanks</p>") == "Approve & thanks"


def test_quoted_approve_alone_is_no_command() -> None:
    text = new_text(f"On Mon, Bot wrote:\n{QUOTED_REQUEST}")
    assert parse_command(text).kind is CommandKind.NONE


@pytest.mark.parametrize("text, kind, argument", [
    ("approved!", CommandKind.APPROVE, ""),
    ("Approve. Thanks a lot", CommandKind.APPROVE, "Thanks a lot"),
    ("*APPROVE*", CommandKind.APPROVE, ""),
    ("REJECT: prices differ from the quote", CommandKind.REJECT, "prices differ from the quote"),
    ("\n\n  reject   too expensive\nsecond line", CommandKind.REJECT, "too expensive"),
    ("Send", CommandKind.SEND, ""),
    ("I approve of the prices", CommandKind.NONE, ""),
    ("approvedx", CommandKind.NONE, ""),
    ("", CommandKind.NONE, ""),
])
def test_the_command_is_the_first_word_of_the_first_line(text: str, kind: CommandKind, argument: str) -> None:
    command = parse_command(text)
    assert (command.kind, command.argument) == (kind, argument)


def test_keywords_are_configurable_for_other_languages() -> None:
    keywords = {CommandKind.APPROVE: ("akzeptiert",), CommandKind.REJECT: ("abgelehnt",)}
    assert parse_command("Akzeptiert!", keywords).kind is CommandKind.APPROVE
    assert parse_command("approve", keywords).kind is CommandKind.NONE


@pytest.mark.parametrize("html", [
    "<blockquote>Order ready.<br />APPROVE</blockquote>",
    "<blockquote>Order ready.<br/>APPROVE</blockquote>",
    "<blockquote>Order ready.<BR>APPROVE</blockquote>",
    "<blockquote>Order ready.</br>APPROVE</blockquote>",
    "<blockquote>Order ready.<hr /><img src=x /><wbr/>APPROVE</blockquote>",
    "<blockquote>Order ready.</span></div></p>APPROVE</blockquote>",
    "<div><blockquote>Order ready.</div>APPROVE</blockquote>",
    "<blockquote><p>Order ready.<p>APPROVE",
    "<blockquote><blockquote>Order ready.</blockquote>APPROVE</blockquote>",
    "<div class=\"gmail_quote\"><blockquote>Order ready.</div>APPROVE",
    "<blockquote/>APPROVE",
])
def test_quoted_approve_in_html_with_void_elements_is_ignored(html: str) -> None:
    assert parse_command(new_text("", f"<div>Looks right</div>{html}")).kind is CommandKind.NONE
    assert new_text("", html) == ""


def test_html_signature_blocks_are_not_new_text() -> None:
    html = ('<div dir="ltr">Approve<br><div class="gmail_signature">Anna Buyer<br>Purchasing</div></div>'
            '<div id="Signature"><p>Sent from Outlook</p></div><blockquote>REJECT</blockquote>')
    assert new_text("", html) == "Approve"


@pytest.mark.parametrize("html, expected", [
    ("<div>Approve<br/>thanks</div><blockquote>Order ready.<br />REJECT</blockquote>", "Approve\nthanks"),
    ("</blockquote><p>Approve</p><blockquote>Reply APPROVE</blockquote>", "Approve"),
    ("<p>Reject<br>too dear</br></p><blockquote>APPROVE</blockquote><p>Sent with care</p>", "Reject\ntoo dear"),
])
def test_new_text_in_html_survives_stray_and_void_tags(html: str, expected: str) -> None:
    assert new_text("", html).startswith(expected)


FIXTURES = Path(__file__).parent / "fixtures" / "replies"


@pytest.mark.parametrize("mail", sorted(p for p in FIXTURES.iterdir() if ".expected." not in p.name),
                         ids=lambda p: p.name)
def test_client_formats_keep_only_the_new_text(mail: Path) -> None:
    body = mail.read_text(encoding="utf-8")
    plain, html = ("", body) if mail.suffix == ".html" else (body, "")
    expected = mail.with_name(f"{mail.stem}.expected.txt").read_text(encoding="utf-8").strip()
    assert new_text(plain, html) == expected


ATTRIBUTIONS = [
    "On Mon, 3 Nov 2026 at 10:00, Supplierbot <orders@supplierbot.test> wrote:",
    "On Mon, Nov 3, 2026 at 10:00 AM Supplierbot <\norders@supplierbot.test> wrote:",
    "Am Mo., 3. Nov. 2026 um 10:00 Uhr schrieb Supplierbot <orders@supplierbot.test>:",
    "Am 03.11.2026 um 10:00 schrieb Supplierbot:",
    "Op 3 nov. 2026 om 10:00 schreef Supplierbot:",
    "Den 3. nov. 2026 kl. 10:00 skrev Supplierbot:",
    "Le lun. 3 nov. 2026 à 10:00, Supplierbot <orders@supplierbot.test>\na écrit :",
    "El lun., 3 nov. 2026 a las 10:00, Supplierbot (<orders@supplierbot.test>) escribió:",
    "Em seg., 3 de nov. de 2026 às 10:00, Supplierbot <orders@supplierbot.test> escreveu:",
    "Il giorno lun 3 nov 2026 alle ore 10:00 Supplierbot <orders@supplierbot.test> ha scritto:",
    "Op ma 3 nov. 2026 om 10:00 schreef Supplierbot <orders@supplierbot.test>:",
    "Op 3 nov. 2026, om 10:00 heeft Supplierbot <orders@supplierbot.test> het volgende geschreven:",
    "Den mån 3 nov. 2026 kl 10:00 skrev Supplierbot <orders@supplierbot.test>:",
    "man. 3. nov. 2026 kl. 10.00 skrev Supplierbot <orders@supplierbot.test>:",
    "ma 3.11.2026 klo 10.00 Supplierbot (orders@supplierbot.test) kirjoitti:",
    "pon., 3 lis 2026 o 10:00 Supplierbot <orders@supplierbot.test> napisał(a):",
    "пн, 3 нояб. 2026 г. в 10:00, Supplierbot <orders@supplierbot.test>:",
    "Dne po 3. 11. 2026 v 10:00 Supplierbot <orders@supplierbot.test> napsal(a):",
    "2026年11月3日(月) 10:00 Supplierbot <orders@supplierbot.test>:",
    "在 2026年11月3日 10:00，Supplierbot <orders@supplierbot.test> 写道：",
    "2026년 11월 3일 (월) 오전 10:00, Supplierbot <orders@supplierbot.test>님이 작성:",
    "03.11.2026, 10.00, \"Supplierbot\" <orders@supplierbot.test>:",
    "2026-11-03 10:00 GMT+01:00 Supplierbot <orders@supplierbot.test>:",
    "---- Anna Buyer wrote ----",
    "------On 11/03/2026 10:00 AM, Supplierbot wrote-----",
]


@pytest.mark.parametrize("attribution", ATTRIBUTIONS)
@pytest.mark.parametrize("quote", ["> ", ""], ids=["quoted", "unquoted"])
def test_history_below_an_attribution_in_any_language_is_dropped(attribution: str, quote: str) -> None:
    history = f"{quote}ACME Ltd sent a bill.\n{quote}APPROVE\n{quote}REJECT <reason>\n"
    assert new_text(f"Fine, thanks.\n\n{attribution}\n\n{history}") == "Fine, thanks."
    assert parse_command(new_text(f"{attribution}\n{history}")).kind is CommandKind.NONE


@pytest.mark.parametrize("separator", [
    "-----Original Message-----",
    "-----Ursprüngliche Nachricht-----",
    "-------- Mensaje original --------",
    "-------- Oprindelig meddelelse --------",
    "-------- Message d'origine --------",
    "-----Reply Message-----",
    "*-------- Original Message --------*",
    "---------- Forwarded message ---------",
    "Begin forwarded message:",
])
def test_history_below_an_original_message_separator_is_dropped(separator: str) -> None:
    assert new_text(f"Fine, thanks.\n\n{separator}\nReply APPROVE\n") == "Fine, thanks."


@pytest.mark.parametrize("header", [
    "From: Supplierbot <orders@supplierbot.test>\nSent: Monday, 3 November 2026 10:00\nTo: Anna",
    "From: Supplierbot <orders@supplierbot.test>\nReply-To: orders@supplierbot.test",
    "De : Supplierbot <orders@supplierbot.test>\nEnvoyé le :lundi 3 novembre 2026 10:00",
    "Da: Supplierbot\nInviato: lunedì 3 novembre 2026 10:00\nA: Anna\nOggetto: Ordine",
    "Von: Supplierbot\nGesendet: Montag, 3. November 2026 10:00\nAn: Anna\nBetreff: Bestellung",
    "Van: Supplierbot\nVerzonden: maandag 3 november 2026 10:00\nAan: Anna",
    "Od: Supplierbot\nWysłano: poniedziałek, 3 listopada 2026 10:00\nDo: Anna\nTemat: Zamówienie",
    "*From:* Supplierbot [mailto:\norders@supplierbot.test]\n*Sent:* Monday, 3 November 2026 10:00",
    "________________________________\nFrom: Supplierbot\nSent: Monday",
    "Date: Mon, 3 Nov 2026 10:00:00 +0100\nTo: anna@buyer.test",
    "差出人: Supplierbot <orders@supplierbot.test>\n送信日時: 2026年11月3日 10:00\n宛先: Anna",
    "发件人：Supplierbot\n发送时间：2026年11月3日 10:00\n收件人：Anna",
])
def test_history_below_a_mail_client_header_block_is_dropped(header: str) -> None:
    assert new_text(f"Fine, thanks.\n\n{header}\n\nReply APPROVE\n") == "Fine, thanks."


def test_a_single_header_like_line_is_the_senders_text() -> None:
    assert new_text("Approve\nTo: all suppliers, same prices next year") == (
        "Approve\nTo: all suppliers, same prices next year")


@pytest.mark.parametrize("plain, expected", [
    ("Sounds good On Mon, Nov 3, 2026 at 10:00 AM Bot <b@x.test> wrote:\n> APPROVE\n", "Sounds good"),
    ("Reject--- On Mon, Nov 3, 2026 at 10:00 AM, b@x.test wrote:\n> APPROVE\n", "Reject"),
    ("Send On Mon, Nov 3, 2026 at 10:00 AM Supplierbot <\nb@x.test> wrote:\n> APPROVE\n", "Send"),
])
def test_a_reply_on_the_attributions_line_is_kept(plain: str, expected: str) -> None:
    assert new_text(plain) == expected


@pytest.mark.parametrize("signature", [
    "Sent from my iPhone", "Sent from TypeApp<http://www.typeapp.com/r>", "Envoyé depuis mon iPhone",
    "Envoyé de mon iPad", "Sendt fra min iPad", "Skickat från min iPhone", "Gesendet von Outlook für Android",
    "Von meinem iPhone gesendet", "Enviado desde mi iPhone", "Enviado do meu iPhone", "Inviato da iPhone",
    "Verzonden vanaf mijn iPhone", "Get Outlook for iOS<https://aka.ms/o0ukef>", "Sent from my BlackBerry® device",
    "Sent from my phone, please excuse any typos.", "(sent from a phone)", "iPhoneから送信", "從我的 iPhone 傳送",
    "--\nAnna Buyer\nPurchasing", "Best regards,\nAnna Buyer\n+49 30 1234567", "Mit freundlichen Grüßen\nAnna",
    "Cordialement,\nAnna", "Üdvözlettel,\nAnna", "-Anna", "——————————————\n\nAnna Buyer\nPurchasing",
])
def test_signatures_are_not_new_text(signature: str) -> None:
    assert new_text(f"Reject: line 2 is wrong\n\n{signature}\n") == "Reject: line 2 is wrong"


@pytest.mark.parametrize("sentence", [
    "Sent from my desk, is much easier than my phone.",
    "Regards to the whole team in Munich: we will visit next week and bring the samples for line 4.",
    "- a bullet, not a name",
    "Best offer so far, please keep it",
])
def test_sentences_that_look_like_signatures_are_kept(sentence: str) -> None:
    assert new_text(f"Approve\n\n{sentence}\n") == f"Approve\n\n{sentence}"


def test_a_rule_inside_the_reply_is_no_signature() -> None:
    plain = "Approve\n\n______________________________\n\nAnd line 4 is fine too.\n\nBest regards,\nAnna\n"
    assert new_text(plain) == "Approve\n\n______________________________\n\nAnd line 4 is fine too."


@pytest.mark.parametrize("plain", [
    "APPROVE 3 items, as Bob wrote:\nsee below\n",
    "REJECT 12 units short, see orders@acme.test:\nthe rest is fine\n",
    "Reject: On Monday the price was different\n",
    "Approve\n\nOn Monday we sent the new price list, details:\n- line 4 is 12.50\n",
])
def test_a_command_line_that_mentions_writing_or_an_address_is_not_history(plain: str) -> None:
    assert new_text(plain) == plain.strip()


def test_a_quote_broken_by_a_long_link_stays_quoted() -> None:
    plain = ("Fine\n\nOn Mon, Bot wrote:\n> View the bill (https://x.test/a\nb=1)\n> APPROVE\n")
    assert new_text(plain) == "Fine"


def test_interleaved_answers_between_quotes_are_kept() -> None:
    plain = "> Is line 2 right?\n\nNo, 12 not 10\n\n> Anything else?\n\nReject\n"
    assert new_text(plain) == "No, 12 not 10\n\nReject"


# --- commands in German, and German prose that starts like one ------------------------------

@pytest.mark.parametrize(("text", "kind", "argument"), [
    ("APPROVE", CommandKind.APPROVE, ""),
    ("FREIGEBEN\nDanke", CommandKind.APPROVE, ""),
    ("Freigeben.", CommandKind.APPROVE, ""),
    ("SENDEN", CommandKind.SEND, ""),
    ("ABLEHNEN Preis 0,12 wie vereinbart", CommandKind.REJECT, "Preis 0,12 wie vereinbart"),
    ("Abgelehnt, wir hatten 0,12 vereinbart", CommandKind.REJECT, "wir hatten 0,12 vereinbart"),
    ("ABLEHNEN\nGrund: Preis zu hoch", CommandKind.REJECT, "Preis zu hoch"),
    ("REJECT\nreason: bolts stay at 0.12", CommandKind.REJECT, "bolts stay at 0.12"),
    ("REJECT\nreason: ", CommandKind.REJECT, ""),
    ("GELIEFERT Palette 1 von 2", CommandKind.DELIVERED, "Palette 1 von 2"),
])
def test_english_and_german_commands_are_read(text: str, kind: CommandKind, argument: str) -> None:
    command = parse_command(text)
    assert (command.kind, command.argument) == (kind, argument)


@pytest.mark.parametrize("text", [
    "Senden Sie uns bitte die Zeichnung als PDF.",
    "Rechnung folgt nächste Woche.",
    "Erhalten haben wir bisher nur die Hälfte.",
    "Geliefert wurde gestern die erste Palette.",
    "Bestellungen sind bei uns erst ab Montag möglich.",
    "Storno ist leider nicht mehr möglich, die Ware ist unterwegs.",
    "Freigegeben ist bei uns noch nichts, wir prüfen.",
])
def test_german_prose_that_starts_with_a_keyword_is_a_comment(text: str) -> None:
    assert parse_command(text).kind is CommandKind.NONE


@pytest.mark.parametrize(("text", "kind"), [
    ("FREIGEBEN", CommandKind.APPROVE),
    ("Freigegeben.", CommandKind.APPROVE),
    ("Freigeben: danke", CommandKind.APPROVE),
    ("Freigeben - danke", CommandKind.APPROVE),
    ("Freigeben\nDanke, Anna", CommandKind.APPROVE),
    ("GENEHMIGEN bitte zügig", CommandKind.APPROVE),
    ("Genehmigt", CommandKind.APPROVE),
    ("Rechnung anbei", CommandKind.INVOICE),
    ("Geliefert am 12.11.", CommandKind.DELIVERED),
    ("Erhalten am Montag", CommandKind.RECEIVED),
    ("Bezahlt am 3.12.", CommandKind.PAID),
    ("Bezahlt an Ihr Konto bei der Sparkasse", CommandKind.PAID),
    ("Geliefert vom Lager Nord", CommandKind.DELIVERED),
    ("Rechnung zu PO-2026-0001", CommandKind.INVOICE),
    ("Rechnung für Oktober", CommandKind.INVOICE),
    ("Geliefert von Spedition Maier, 2 Paletten", CommandKind.DELIVERED),
])
def test_german_commands_followed_by_a_date_or_a_preposition_are_read(text: str, kind: CommandKind) -> None:
    assert parse_command(text).kind is kind


@pytest.mark.parametrize("text", [
    "Freigeben würde ich das nicht",
    "Freigeben durch den CFO nötig",
    "Freigegeben durch den CFO wird das nicht",
    "Freigeben? Nein.",
    "Genehmigen? Auf keinen Fall",
    "Freigeben erst nach Rücksprache",
    "Genehmigt von Herrn Maier, nicht von mir",
    "Abgelehnt nur wegen der Lieferzeit? Nein",
    "Genehmigen kann das nur die Geschäftsführung",
    "Ablehnen würde ich das nicht",
    "Approve?",
    "APPROVE? Not before the price is fixed",
    "Approve ? no",
    "Approve?!",
    "Reject? Why?",
    "Abgelehnt? Nein, nur verschoben",
    "Abgelehnt wenn der Preis nicht stimmt? Nein",
])
def test_prose_and_questions_never_decide(text: str) -> None:
    assert parse_command(text).kind is CommandKind.NONE


@pytest.mark.parametrize(("text", "condition"), [
    ("Approve only if the price is 0.12", "only if the price is 0.12"),
    ("Approved, provided you deliver by Friday", "provided you deliver by Friday"),
    ("APPROVE if delivered before 15 Dec\nthanks", "if delivered before 15 Dec"),
    ("Genehmigt, wenn der Preis stimmt", "wenn der Preis stimmt"),
    ("Freigegeben, sofern die Lieferung am Montag kommt", "sofern die Lieferung am Montag kommt"),
    ("APPROVE unless the freight is above 25", "unless the freight is above 25"),
    # without the comma too: one rule, never prose relayed to the supplier
    ("Genehmigt wenn der Preis stimmt", "wenn der Preis stimmt"),
    ("Genehmigt nur, wenn der Preis stimmt", "nur, wenn der Preis stimmt"),
    ("Freigegeben falls die Menge stimmt", "falls die Menge stimmt"),
    ("Genehmigt vorbehaltlich der Prüfung durch den Einkauf", "vorbehaltlich der Prüfung durch den Einkauf"),
])
def test_an_approval_with_a_condition_is_named(text: str, condition: str) -> None:
    assert parse_command(text).kind is CommandKind.APPROVE
    assert approval_condition(text) == condition


@pytest.mark.parametrize("text", [
    "APPROVE", "Approved. If you have questions, call me", "APPROVE thanks, good work",
    "Freigegeben. Wenn etwas fehlt, melden Sie sich", "APPROVE\nonly if you can, deliver early",
])
def test_an_approval_and_a_note_carry_no_condition(text: str) -> None:
    assert approval_condition(text) == ""

"""What quoted history and signatures look like in a reply, in the languages we meet.

Pure predicates over the lines of a plain-text reply, used by `parsers.reply`:
attribution lines ("On … wrote:", "Le … a écrit :", "30.09.2017, 18.30,
"John" <x@y>:"), "Original message" separators, mail-client header blocks
("From: … Sent: … To: …" in many languages) and signatures ("-- ", "Sent
from my iPhone", "Regards,"). Each rule is general (a shape, not a case):
a reader for a decision bot must rather cut too much history than keep any.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

# --- attribution lines ---------------------------------------------------------------------

#: The verbs that end an attribution ("… wrote:"), any language we have met.
_WROTE = (
    r"wrote|writes|sent|schrieb|geschrieben|het volgende geschreven|schreef|a [ée]crit|escribi[óo]|escreveu"
    r"|scrisse|ha scritto|napisa[łl](?:a|\(a\))?|đã viết|skrev|kirjoitti|написала?|написал\(а\)|пише"
    r"|írta|yazdı|napsal(?:a|\(a\))?|napísal|napisao|napisala|написав|a scris|va escriure|rašė|menulis"
    r"|έγραψε|כתב|כתבה|كتب|작성"
)
_WROTE_END = re.compile(rf"(?<!\w)(?:{_WROTE})$|(?:写道|のメッセージ)$", re.IGNORECASE)
#: German, Dutch and Scandinavian put the name after the verb: "Am 13.05.2026 um 09:05 schrieb Ann:".
_WROTE_BEFORE_NAME = re.compile(r"(?<!\w)(?:schrieb|schreef|skrev)(?!\w)", re.IGNORECASE)
#: Words an attribution starts with (capitalised: "On Mon, …", "Le lun. …", "Am 3. Nov …").
_LEAD = r"On|Am|Le|El|Il|In data|Op|Den|På|W dniu|Dnia|Em|Dne|Dana|Vào|Quoting|Citando|Zitat von|Στις"
_LEAD_START = re.compile(rf"(?:{_LEAD})\s")
_LEAD_INSIDE = re.compile(rf"(?<=[\s\-])(?:{_LEAD})\s")
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
#: A date-only attribution ends with the quoted person's address in brackets (or its wrapped "<").
_EMAIL_TAIL = re.compile(r"<\s*(?:mailto:)?[\w.+'-]+@[\w.-]+\s*>?\s*:?$|<$")
#: A line starting with two dashes or more and ending with "wrote ----" (Zoho, Android).
_DASHED = re.compile(r"^\s*-{2,}")
_MAX_ATTRIBUTION = 300
_DATE_OR_TIME = re.compile(r"\d[:.]\d\d|\d[./-]\d{1,2}[./-]\d")


def _ends_with_wrote(text: str) -> bool:
    # Only the last words can match: searching the whole text from every position is slow.
    return bool(_WROTE_END.search(" ".join(text[-120:].rstrip(" \t:：-*_").split()[-3:])))


def is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def attribution_span(lines: list[str], index: int) -> int:
    """How many lines the attribution starting at `index` takes (0 if none starts there).

    Clients wrap long attributions (Gmail: "On Mon, … Some One <" / "x@y>
    wrote:"), so up to six lines are joined while the text has not ended a
    sentence. Blank lines inside are skipped only after a lead word
    (Polymail: "On Tue, … John Smith" / "" / "<" / "mailto:…" / "> wrote:").
    """
    first = lines[index].strip()
    if not first or is_quoted(first) or not _could_start_attribution(first):
        return 0
    parts = [first]
    for offset in range(1, 7):
        joined = " ".join(parts)
        if (len(parts) <= 2 or _ends_with_wrote(joined)) and is_attribution(joined, len(parts)):
            return offset
        if index + offset >= len(lines) or len(joined) > _MAX_ATTRIBUTION or parts[-1].endswith((".", "!", "?")):
            return 0
        part = lines[index + offset].strip().lstrip(">").strip()
        if not part and not _LEAD_START.match(first):
            return 0
        parts += [part] if part else []
    return 0


def _could_start_attribution(line: str) -> bool:
    return bool(_LEAD_START.match(line) or _DASHED.match(line) or re.search(r"\d", line[:25])
                or _ends_with_wrote(line))


def is_attribution(text: str, lines: int = 1) -> bool:
    """An attribution: "<lead/date> … wrote:", "---- … wrote ----", or "<date> … <email>:" (two lines at most)."""
    text = text.strip()
    if len(text) > _MAX_ATTRIBUTION:
        return False
    dated = bool(re.search(r"\d", text[:25]) and _DATE_OR_TIME.search(text))
    if _ends_with_wrote(text):
        # "as Bob wrote:" in a sentence is no attribution: one names a date, an address or starts so.
        return bool(_LEAD_START.match(text) or _DASHED.match(text) or _EMAIL.search(text) or dated)
    if text.endswith((":", "：")) and (_LEAD_START.match(text) or dated) and _WROTE_BEFORE_NAME.search(text):
        return True
    return bool(lines <= 2 and dated and _EMAIL_TAIL.search(text[-100:]) and _EMAIL.search(text))


def split_shared_line(lines: list[str], index: int) -> tuple[str, str] | None:
    """"Sounds good On Wed, … wrote:" → ("Sounds good", "On Wed, … wrote:"); None if not shared.

    The attribution may wrap onto the next line; only its start is looked for here.
    """
    line = lines[index]
    tail = " ".join(lines[index : index + 2])
    if is_quoted(line) or len(tail) > 2 * _MAX_ATTRIBUTION or not (_ends_with_wrote(line) or _ends_with_wrote(tail)):
        return None
    for lead in _LEAD_INSIDE.finditer(line):
        reply = line[: lead.start()].rstrip(" -")
        if reply.strip() and any(is_attribution(text[lead.start():]) for text in (line, tail)):
            return reply, line[lead.start():]
    return None


# --- separators and header blocks --------------------------------------------------------------

_SEPARATOR_PHRASES = (
    r"original message|reply message|forwarded message|begin forwarded message|message original"
    r"|urspr[üu]ngliche nachricht|originalnachricht|antwort nachricht|weitergeleitete nachricht"
    r"|anfang der weitergeleiteten nachricht|message d'origine|message transf[ée]r[ée]"
    r"|d[ée]but du message r[ée]exp[ée]di[ée]|mensaje original|mensaje reenviado|messaggio originale"
    r"|messaggio inoltrato|oorspronkelijk bericht|origineel bericht|doorgestuurd bericht"
    r"|oprindelig meddelelse|oprindelig besked|videresendt meddelelse|opprinnelig melding"
    r"|ursprungligt meddelande|vidarebefordrat meddelande|alkuper[äa]inen viesti|v[äa]litetty viesti"
    r"|wiadomo[śs][ćc] oryginalna|oryginalna wiadomo[śs][ćc]|przekazana wiadomo[śs][ćc]"
    r"|p[ůu]vodn[íi] zpr[áa]va|исходное сообщение|пересылаемое сообщение|mensagem original"
    r"|mensagem encaminhada"
)
_SEPARATOR = re.compile(rf"^[\s\-=_*]*(?:{_SEPARATOR_PHRASES})[\s\-=_*]*:?[\s\-=_*]*$", re.IGNORECASE)
#: A rule line (Outlook's "____", "====", "-----") over a header block, or left at the end.
RULE = re.compile(r"^\s*(?:_{2,}|(?:[-_=*~—–─━═]\s*){4,})\s*$")

_FROM_KEYS = (
    r"from|de|von|da|fra|van|od|от|från|lähettäjä|feladó|kimden|afzender|remetente|message du|από|差出人|发件人"
    r"|發件人|寄件者|보낸 사람"
)
_OTHER_KEYS = (
    r"sent|date|to|cc|bcc|subject|reply-to|envoy[ée](?: le)?|[àa]|objet|sujet|copie [àa]|gesendet|datum|an"
    r"|betreff|kopie|antwort an|inviato|data|oggetto|enviado(?: el)?|enviada em|fecha|para|asunto|assunto"
    r"|sendt|til|emne|kopi|verzonden|aan|onderwerp|wys[łl]ane|wys[łl]ano|do|temat|отправлено|дата|кому|тема"
    r"|skickat|till|ämne|lähetetty|vastaanottaja|aihe|päivämäärä|elküldve|címzett|tárgy|gönderildi|kime|konu"
    r"|odesláno|komu|předmět|στάλθηκε|προς|θέμα|送信日時|宛先|件名|发送时间|發送時間|收件人|收件者|主题|主旨"
    r"|받는 사람|제목|날짜"
)
_HEADER = re.compile(
    rf"^\s*[*_]{{0,2}}(?P<key>{_FROM_KEYS}|{_OTHER_KEYS})[*_]{{0,2}}\s*[:：](?!//)", re.IGNORECASE)


def is_separator(line: str) -> bool:
    """"-----Original Message-----", "*-------- Original Message --------*", "Begin forwarded message:"…"""
    return bool(_SEPARATOR.match(line))


def starts_header_block(lines: list[str], index: int) -> bool:
    """A mail client's header block (From/Sent/To/Subject, any language) starts here.

    Two header lines with different keys within five lines: one alone may be
    the sender's own words ("To: all suppliers").
    """
    first = _HEADER.match(lines[index])
    if not first:
        return False
    key = first.group("key").casefold()
    for line in lines[index + 1 : index + 6]:
        other = _HEADER.match(line)
        if other and other.group("key").casefold() != key:
            return True
    return False


# --- signatures ---------------------------------------------------------------------------

_MAX_SIGNATURE_LINES = 5  # below a closing: name, role, company, phone, address
_SIG_DASHES = re.compile(r"^--\s*$")  # RFC 3676 "-- ", and "--"
_DASH_NAME = re.compile(r"-[^\W\d_][\w.'-]*(?: [\w.'-]+){0,2}")
_MOBILE = re.compile(
    r"^(?:sent (?:from|with|via|using|by)|get outlook for|envoy[ée] (?:depuis|de|à partir de|avec)|sendt (?:fra|med)"
    r"|skickat från|gesendet (?:von|mit)|enviado (?:desde|do|de|con)|inviato da(?:l)?|verzonden (?:vanaf|met)"
    r"|verstuurd (?:vanaf|met)|wys[łl]ane z|odesl[áa]no z|отправлено (?:с|из)|lähetetty|von meinem"
    r"|diese nachricht wurde von meinem)\s+(?P<rest>.*)$",
    re.IGNORECASE,
)
#: Phones whose signature does not start with its verb: "iPhoneから送信", "從我的 iPhone 傳送".
_MOBILE_WHOLE = re.compile(
    r"^(?:從我的|发自我的|來自我的)\s*[\w -]{1,30}(?:傳送|发送)?$|^[\w -]{1,30}(?:から送信|에서 보냄)$")
#: "Sent from my cell, please excuse any typos": the apology belongs to the signature.
_APOLOGY = re.compile(r"[,.]?\s*(?:please\s+)?(?:excuse|pardon|forgive)\b.*$", re.IGNORECASE)
_MOBILE_MAX_WORDS = 6  # "my Samsung Galaxy s5 Octacore device"
_CLOSING = re.compile(
    r"^(?:(?:best|kind|warm|warmest|many)\s+regards|regards|best wishes|best(?=\s*[,!]|\s*$)|cheers|sincerely"
    r"|yours (?:truly|sincerely)|mit freundlichen gr[üu](?:ß|ss)en|freundliche gr[üu](?:ß|ss)e"
    r"|viele gr[üu](?:ß|ss)e|beste gr[üu](?:ß|ss)e"
    r"|liebe gr[üu](?:ß|ss)e|mfg|cordialement|bien cordialement|bien à vous|saludos(?: cordiales)?|un saludo"
    r"|atentamente|cordiali saluti|distinti saluti|met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?"
    r"|med vänlig hälsning|vänliga hälsningar|med venlig hilsen|vennlig hilsen|ystävällisin terveisin"
    r"|pozdrawiam|z poważaniem|s pozdravem|с уважением|atenciosamente|cumprimentos|[üu]dv[öo]zlettel|groeten"
    r"|hälsningar|un saluto)\b[,.!]?(?P<name>.*)$",
    re.IGNORECASE,
)


def is_signature_start(lines: list[str], index: int) -> bool:
    """A signature starts here: "-- ", a phone's "Sent from my …", a closing or a rule with a short tail."""
    line = lines[index].strip()
    return bool(_SIG_DASHES.match(line) or _is_mobile_signature(line) or _is_dash_name(lines, index)
                or (_CLOSING.match(line) and _is_short_tail_signature(lines, index))
                or (RULE.match(line) and _is_short_tail_signature(lines, index) and _is_name_block(lines, index)))


def _is_mobile_signature(line: str) -> bool:
    """"Sent from my iPhone" is a signature; "Sent from my desk, is much easier…" is a sentence."""
    line = line.strip("()<>[] ")
    match = _MOBILE.match(line)
    if not match:
        return bool(_MOBILE_WHOLE.match(line))
    rest = _APOLOGY.sub("", re.sub(r"<[^>]*>|\([^)]*\)|https?://\S+", " ", match.group("rest")))
    rest = rest.strip().rstrip(".")
    return len(rest.split()) <= _MOBILE_MAX_WORDS and not re.search(r"[,;:!?]|\.\s", rest)


def _is_short_tail_signature(lines: list[str], index: int) -> bool:
    """"Regards," / "Best regards, Ann" / "————" followed only by a few short lines (name, role, phone)."""
    match = _CLOSING.match(lines[index].strip())
    if index == 0 or (match and len(match.group("name").split()) > 3):
        return False
    tail = []
    for line in _after(lines, index):
        if line.strip():
            tail.append(line)
        if len(tail) > _MAX_SIGNATURE_LINES:
            return False
    return all(len(line.strip()) <= 60 for line in tail)


def _is_name_block(lines: list[str], index: int) -> bool:
    """Below a rule, a signature's lines name someone; a sentence or a sign-off means the reply goes on."""
    tail = [line.strip() for line in _after(lines, index) if line.strip()]
    return not any(line.endswith((".", "!", "?", "。", "！", "？")) or _CLOSING.match(line) for line in tail)


def _is_dash_name(lines: list[str], index: int) -> bool:
    """"-Ann Smith" as the last line: a sign-off, where "- a bullet" has a space."""
    if index == 0 or not _DASH_NAME.fullmatch(lines[index].strip()):
        return False
    below = next((later.strip() for later in _after(lines, index) if later.strip()), None)
    return below is None or bool(RULE.match(below) or _SIG_DASHES.match(below))


def _after(lines: list[str], index: int) -> Iterator[str]:
    """The lines below `index`, lazily: a slice would copy the rest once per line looked at."""
    return (lines[later] for later in range(index + 1, len(lines)))

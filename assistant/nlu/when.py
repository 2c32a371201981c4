"""Dates, times and parts of the day named in a message, relative to the clinic's local now.

Our own rules read the phrases patients use for visits ("next tuesday after 3", "the 14th",
"tomorrow morning", "this friday at 2pm", "in two weeks"); dateparser (English only, dates
from the future) reads what is left that names a month ("dec 3", "3rd of december").
Everything is naive local clinic time: the caller converts from and to UTC.

Readings (tests/assistant/nlu/test_when.py holds each):
- a weekday ("monday", "next monday") is the next one after today; "this monday" may be
  today; "monday next week" is the Monday of the next calendar week (weeks start Monday).
- "the 14th" is this month's 14th unless it has passed, then next month's.
- a month and day in the past is next year's.
- an hour without am/pm is read in clinic hours: 7-11 morning, 12 noon, 1-6 afternoon;
  "in the evening"/"tonight" moves it to the afternoon/evening.
- a bare number is a time only after "at", "after", "before", "around", "by" ... or with
  am/pm/o'clock ("10 mg" and "2 weeks" are not times).
"""

import datetime as dt
import re
from functools import lru_cache

from assistant.nlu.calendar_words import (
    MONTHS,
    NUMBERS,
    ORDINAL_WORDS,
    PARTS,
    RELATIONS,
    WEEKDAYS,
    WORD_HOURS,
)

_WD = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_MO = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUM = r"(?:\d+|" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + ")"
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"

RELATIVE_DAY = re.compile(
    r"\b(day after (?:tomorrow|tmrw|tomorow|tmr)|today|tonight|tonite|"
    r"this (?:afternoon|evening)|"
    r"tomorrow|tmrw|tomorow|tommorow|tommorrow|tomorrw|tmr|2moro|2morrow)\b"
)
WEEKDAY = re.compile(
    r"\b(?:(next|this|coming|this coming|on|following|the following)\s+)?(" + _WD + r")\b"
    r"(?:\s+(next week|after next|the week after|week after next))?"
)
NEXT_WEEK_WEEKDAY = re.compile(r"\bnext week(?:\s+on)?\s+(" + _WD + r")\b")
IN_N = re.compile(
    r"\b(?:in|within)\s+(" + _NUM + r")\s+(days?|weeks?|wks?)\b(?:\s+time)?"
    r"|\b(" + _NUM + r")\s+(days?|weeks?)\s+from\s+(?:now|today)\b"
    r"|\b(?:in\s+)?(a|one|two|2)\s+(fortnights?)\b(?:\s+time)?"
)
_ORDW = "|".join(sorted(ORDINAL_WORDS, key=len, reverse=True))
# "december third", "the third of december": a word ordinal next to a month becomes digits
# (elsewhere "first" and "second" are ordinary words: "the first available", "a second opinion").
_MONTHS_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
ORDINAL_BEFORE_MONTH = re.compile(r"\b(" + _ORDW + r")(\s+(?:of\s+)?(?:" + _MONTHS_ALT + r")\b)")
ORDINAL_AFTER_MONTH = re.compile(r"\b(" + _MONTHS_ALT + r")(\.?\s+(?:the\s+)?)(" + _ORDW + r")\b")


def _ordinals_as_digits(text: str) -> str:
    text = ORDINAL_BEFORE_MONTH.sub(lambda m: f"{ORDINAL_WORDS[m[1]]}th{m[2]}", text)
    return ORDINAL_AFTER_MONTH.sub(lambda m: f"{m[1]}{m[2]}{ORDINAL_WORDS[m[3]]}th", text)


MONTH_DAY = re.compile(
    r"\b(" + _MO + r")\.?\s+(?:the\s+)?" + _ORD + r"\b(?!\s*(?:am|pm|:))"
    r"|\b" + _ORD + r"\s+(?:of\s+)?(" + _MO + r")\b"
)
NUMERIC_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b|\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")
DAY_OF_MONTH = re.compile(
    r"\b(?:the|on)\s+(\d{1,2})(?:st|nd|rd|th)\b|\bthe\s+(\d{1,2})\b(?!\s*(?:am|pm|:|mg))"
    r"|\b(\d{1,2})(?:st|nd|rd|th)\b"
)
PART_OF_DAY = re.compile(
    r"\b(morning|mornin|morn|am|afternoon|aftenoon|arvo|evening|evenin|tonight|tonite|night|"
    r"lunchtime|lunch time|first thing|after work|after school|end of the day)\b"
)
_REL = "|".join(
    re.escape(r) for r in sorted((r for r in RELATIONS if r != "ish"), key=len, reverse=True)
)
_HOURW = "|".join(WORD_HOURS)
TIME = re.compile(
    r"(?:\b(?P<rel>" + _REL + r")\s+)?"
    r"(?:(?P<half>half past|quarter past|quarter to)\s+)?"
    r"(?P<hour>\d{1,2}|" + _HOURW + r")"
    r"(?:[:.h](?P<minute>\d{2}))?"
    r"\s*(?P<ampm>a\.?m\.?|p\.?m\.?|o\s?clock|oclock|hrs|ish)?"
    r"(?P<ish>\s*ish)?\b"
)
NOON = re.compile(
    r"(?:\b(?P<rel>" + _REL + r")\s+)?\b(?P<word>noon|midday|mid day|12 noon)(?P<ish>ish)?\b"
)


def _next_weekday(today: dt.date, weekday: int, *, include_today: bool) -> dt.date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return today + dt.timedelta(days=ahead)


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return NUMBERS.get(word)


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_day(today: dt.date, month: int, day: int) -> dt.date | None:
    for year in (today.year, today.year + 1):
        date = _valid(year, month, day)
        if date and date >= today:
            return date
    return None


def _nth_of_month(today: dt.date, day: int) -> dt.date | None:
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        date = _valid(year, month, day)
        if date and date >= today:
            return date
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


@lru_cache(maxsize=1)
def _dateparser():  # type: ignore[no-untyped-def]
    import dateparser  # imported at first use: it loads its language data

    return dateparser


def dateparser_date(phrase: str, now: dt.datetime) -> dt.date | None:
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now,
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DAY_OF_MONTH": "first",
        "DATE_ORDER": "MDY",
    }
    parsed = _dateparser().parse(phrase, languages=["en"], settings=settings)
    return parsed.date() if parsed else None


def _numeric(match: re.Match[str], today: dt.date) -> dt.date | None:
    if match.group(1):
        return _valid(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    month, day, year = int(match.group(4)), int(match.group(5)), match.group(6)
    if year:
        return _valid(int(year) + (2000 if len(year) == 2 else 0), month, day)
    return _month_day(today, month, day)


def _named_month(match: re.Match[str], now: dt.datetime) -> dt.date | None:
    month_word = match.group(1) or match.group(4)
    day_text = match.group(2) or match.group(3)
    return _month_day(now.date(), MONTHS[month_word], int(day_text)) or dateparser_date(
        match.group(0), now
    )


def _relative_day(match: re.Match[str], today: dt.date) -> dt.date:
    word = match.group(1)
    if word.startswith("day after"):
        return today + dt.timedelta(days=2)
    if word in ("today", "tonight", "tonite") or word.startswith("this "):
        return today
    return today + dt.timedelta(days=1)


def _next_week(today: dt.date, weekday: int) -> dt.date:
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)
    return monday + dt.timedelta(days=weekday)


def _weekday(match: re.Match[str], today: dt.date) -> dt.date:
    qualifier, weekday, later = match.group(1), WEEKDAYS[match.group(2)], match.group(3)
    if later == "next week":
        return _next_week(today, weekday)
    date = _next_weekday(today, weekday, include_today=qualifier == "this")
    if later or qualifier in ("following", "the following"):
        date += dt.timedelta(days=7)
    return date


def _in_n(match: re.Match[str], today: dt.date) -> dt.date | None:
    if match.group(5):
        return today + dt.timedelta(days=14 * (_number(match.group(5)) or 1))
    count_word, unit = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    count = _number(count_word)
    if count is None:
        return None
    return today + dt.timedelta(days=count * 7 if unit.startswith("w") else count)


def _day_of_month(match: re.Match[str], today: dt.date, text: str) -> dt.date | None:
    day = int(match.group(1) or match.group(2) or match.group(3))
    if re.search(r"\bnext month\b", text):
        # "the 5th of next month": from the first of next month on
        first = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return _nth_of_month(first, day)
    return _nth_of_month(today, day)


A_WEEK = re.compile(r"\b(?:a|one) week (?:from )?(?:today|now)\b|\bin a week\b")
# A date after these words is the one being given up ("from monday to wednesday", "instead
# of the 9th", "can't do thursday"): when a message names two, the other one is meant.
GIVEN_UP = re.compile(
    r"(?:\bfrom|instead of|rather than|\bthan|\bnot|cant do|cant make|cannot do|can not do|"
    r"cant come|cannot make|cant make it|booked for|moved from|move from|was|is)"
    r"(?:\s+(?:on|the|my|it|for|at))*\s*$"
)


SINCE = re.compile(r"\b(?:since|started|start|began|begun|as of|ever since)(?:\s+(?:on|the))*\s*$")


def _beside(found: list[tuple[int, int, dt.date]], start: int, end: int) -> bool:
    return any(
        abs(start - taken_end) <= 2 or abs(taken_start - end) <= 2
        for taken_start, taken_end, _ in found
    )


MONTH_WORD = re.compile(r"\b(?:" + _MONTHS_ALT + r")\b")


def _month_phrase(text: str, now: dt.datetime) -> dt.date | None:
    """dateparser on the words around a month our rules could not place, if they hold a day."""
    words = text.split()
    for index, word in enumerate(words):
        if not MONTH_WORD.search(word) or word == "may":
            continue
        window = " ".join(words[max(0, index - 2) : index + 3])
        if re.search(r"\d", window) and not re.search(r"\d\s*(?:am|pm|:)", window):
            date = dateparser_date(window, now)
            if date is not None:
                return date
    return None


def find_date(text: str, now: dt.datetime) -> dt.date | None:
    """The visit date the text names, or None; of two, the one not being given up."""
    text = _ordinals_as_digits(text)
    today = now.date()
    readers = (
        (NUMERIC_DATE, lambda m: _numeric(m, today)),
        (MONTH_DAY, lambda m: _named_month(m, now)),
        (RELATIVE_DAY, lambda m: _relative_day(m, today)),
        (NEXT_WEEK_WEEKDAY, lambda m: _next_week(today, WEEKDAYS[m.group(1)])),
        (WEEKDAY, lambda m: _weekday(m, today)),
        (IN_N, lambda m: _in_n(m, today)),
        (A_WEEK, lambda m: today + dt.timedelta(days=7)),
        (DAY_OF_MONTH, lambda m: _day_of_month(m, today, text)),
    )
    found: list[tuple[int, int, dt.date]] = []
    for pattern, read in readers:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < taken_end and taken_start < end for taken_start, taken_end, _ in found):
                continue
            if pattern is MONTH_DAY and match.group(1) == "may" and not match.group(2):
                continue
            date = read(match)
            if date is not None:
                # "monday 7th december": a weekday beside a month-day only repeats it
                if pattern is WEEKDAY and _beside(found, start, end):
                    continue
                found.append((start, end, date))
    if not found:
        return _month_phrase(text, now)
    # "since tuesday", "started on the 3rd": when a symptom began, not a date to act on
    found = [item for item in found if not SINCE.search(text[max(0, item[0] - 20) : item[0]])]
    if not found:
        return None
    found.sort()
    kept = [item for item in found if not GIVEN_UP.search(text[max(0, item[0] - 30) : item[0]])]
    kept = kept or found
    if len(kept) > 1 and re.fullmatch(
        r"\s*(?:or|and|/|,|or maybe|or else)\s*", text[kept[0][1] : kept[1][0]]
    ):
        return kept[0][2]  # "monday or tuesday": the first choice
    return kept[-1][2]


def find_part_of_day(text: str) -> str | None:
    match = PART_OF_DAY.search(text)
    if not match or match.group(1) == "am":
        return None
    return PARTS[match.group(1)]


def find_time(text: str, part_of_day: str | None) -> tuple[str, str] | None:
    """(HH:MM, relation) for the time the text names, or None."""
    if match := NOON.search(text):
        return "12:00", "around" if match.group("ish") else RELATIONS.get(
            match.group("rel") or "at", "at"
        )
    for match in TIME.finditer(text):
        rel, ampm, ish = match.group("rel"), match.group("ampm"), match.group("ish")
        hour_text, minute_text = match.group("hour"), match.group("minute")
        if not (rel or ampm or minute_text or match.group("half")):
            continue
        after = text[match.end() : match.end() + 12]
        if re.match(r"\s*(?:mg|mcg|ml|g\b|days?|weeks?|wks?|months?|years?|tabs?|pills?)", after):
            continue
        if re.match(r"\s*(?:st|nd|rd|th)\b", after):
            continue
        before = text[max(0, match.start() - 6) : match.start()]
        if re.search(r"(?:\$|#|/)\s*$", before):
            continue
        hour = int(hour_text) if hour_text.isdigit() else WORD_HOURS[hour_text]
        minute = int(minute_text) if minute_text else 0
        if hour > 23 or minute > 59:
            continue
        # "for 2" reads as a party size as often as a time; only with am/pm or minutes
        if rel == "for" and not (ampm or minute_text):
            continue
        half = match.group("half")
        if half == "half past":
            minute = 30
        elif half == "quarter past":
            minute = 15
        elif half == "quarter to":
            hour, minute = hour - 1, 45
        ampm_word = (ampm or "").replace(".", "").replace(" ", "")
        if ampm_word.startswith("p") and hour < 12:
            hour += 12
        elif ampm_word.startswith("a") and hour == 12:
            hour = 0
        elif not ampm_word.startswith(("a", "p")) and (
            (part_of_day in ("afternoon", "evening") and hour < 12)
            or (part_of_day != "morning" and 1 <= hour <= 6)
        ):
            hour += 12
        relation = RELATIONS.get(rel or "at", "at")
        if ampm_word == "ish" or ish:
            relation = "around"
        return f"{hour:02d}:{minute:02d}", relation
    return None

"""Medicines and clinicians named in a message, matched against the lists the caller gives.

Only the patient's own medicine list is searched (never a global drug list): an unknown
medicine gives no slot. A medicine's name is the words of its entry before the first
digit ("metformin" in "metformin 500 mg tablet"); a message word (or two words, for
two-word names) matches it with typos (rapidfuzz's normalised Indel similarity >= 80, so
one or two slips in a long name: "metfromin", "lisinipril"). A clinician matches on a
name of the entry (titles dropped): "dr chen" and "carol" both name "Dr Carol Chen".
"""

import itertools
import re
from collections.abc import Sequence

from rapidfuzz import fuzz

TITLES = frozenset(
    [
        "dr",
        "doctor",
        "dr.",
        "nurse",
        "np",
        "pa",
        "md",
        "rn",
        "prof",
        "mr",
        "mrs",
        "ms",
        "miss",
        "do",
    ]
)
# Message words that look like short names but are not ("see", "can", ...): a name word must
# have at least this many letters to match with a typo.
MIN_FUZZY = 5
MEDICINE_CUTOFF = 80.0
CLINICIAN_CUTOFF = 85.0
# Words of medicine entries that are forms, not names.
FORMS = frozenset(
    [
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "oral",
        "solution",
        "suspension",
        "inhaler",
        "cream",
        "ointment",
        "injection",
        "pen",
        "patch",
        "drops",
        "spray",
        "er",
        "xr",
        "sr",
        "ir",
        "dr",
        "hcl",
        "sodium",
        "extended",
        "release",
        "delayed",
        "chewable",
        "mg",
        "mcg",
        "ml",
    ]
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z0-9-]*|\d+", text.lower().replace("'", ""))


def medicine_name(entry: str) -> str:
    """The name part of a medicine list entry: its words before the first number or form."""
    name: list[str] = []
    for word in words(entry):
        if word[0].isdigit() or word in FORMS:
            break
        name.append(word)
    return " ".join(name) or entry.lower()


def _similarity(candidate: str, name: str) -> float:
    if candidate == name:
        return 100.0
    if len(candidate) < MIN_FUZZY or abs(len(candidate) - len(name)) > 3:
        return 0.0
    return fuzz.ratio(candidate, name, score_cutoff=MEDICINE_CUTOFF)


def find_medication(text: str, medications: Sequence[str]) -> str | None:
    """The entry of `medications` the text names (the best match), or None."""
    if not medications:
        return None
    message = words(text)
    spans = message + [" ".join(pair) for pair in itertools.pairwise(message)]
    numbers = {word for word in message if word[0].isdigit()}
    best, best_score = None, 0.0
    for entry in medications:
        name = medicine_name(entry)
        # a multi-word name also answers to its first word ("insulin" for "insulin glargine")
        names = {name, name.split()[0]} if " " in name else {name}
        score = max(
            (_similarity(candidate, one) for candidate in spans for one in names), default=0.0
        )
        if score and numbers & set(words(entry)):
            score += 1  # of two strengths of one medicine, the one whose dose is named
        if score > best_score:
            best, best_score = entry, score
    return best or _by_device(message, medications)


# Forms a patient names instead of the medicine ("my inhaler"): they name it when only one
# entry of the list has that form.
DEVICES = {
    "inhaler": "inhaler",
    "inhalers": "inhaler",
    "pen": "pen",
    "pens": "pen",
    "patch": "patch",
    "patches": "patch",
    "cream": "cream",
    "drops": "drops",
}


def _by_device(message: list[str], medications: Sequence[str]) -> str | None:
    for word in message:
        if word in DEVICES:
            holders = [entry for entry in medications if DEVICES[word] in words(entry)]
            if len(holders) == 1:
                return holders[0]
    return None


# Names that are also everyday words ("I will come", "as soon as I may"): they name a
# clinician only right after a title ("dr will") or beside another of the entry's names.
EVERYDAY = frozenset(
    [
        "will", "may", "can", "young", "long", "rose", "hope", "grace", "mark", "bill", "sue",
        "dawn", "joy", "faith", "page", "king", "bell", "law", "black", "white", "brown",
        "green", "hall", "wood", "day", "best", "rich", "love", "little", "early", "summer",
        "april", "june", "august", "sunny", "art", "pat", "jack", "frank", "max",
    ]
)  # fmt: skip


def find_clinician(text: str, clinicians: Sequence[str]) -> str | None:
    """The entry of `clinicians` the text names, or None."""
    if not clinicians:
        return None
    message = words(text)
    best, best_score = None, 0.0
    for entry in clinicians:
        names = [name for name in words(entry) if name not in TITLES and len(name) >= 3]
        for index, word in enumerate(message):
            if word in TITLES:
                continue
            for name in names:
                if word == name:
                    if word in EVERYDAY and not _introduced(message, index, names):
                        continue
                    score = 100.0
                elif len(word) >= MIN_FUZZY and len(name) >= MIN_FUZZY:
                    score = fuzz.ratio(word, name, score_cutoff=CLINICIAN_CUTOFF)
                else:
                    continue
                if score > best_score:
                    best, best_score = entry, score
    return best


def _introduced(message: list[str], index: int, names: list[str]) -> bool:
    before = message[index - 1] if index else ""
    after = message[index + 1] if index + 1 < len(message) else ""
    return before in TITLES or before in names or after in names

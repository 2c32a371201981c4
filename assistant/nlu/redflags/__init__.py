"""Red flags: deterministic word rules, run before anything else reads the message.

A rule is a regular expression over the message's normalised words (lower case,
apostrophes dropped, anything else not a letter or digit a space, a few common typos
put right). A match counts unless a negation ("no", "not", "don't have", "without",
"denies", ...) stands before it in the same clause (clauses end at punctuation and at
"but"/"though"), or the clause says it has gone ("... is gone", "... went away").
Hedges are not negations: "not sure if it's chest pain" still flags.

Choices (tests/assistant/nlu/test_red_flags.py holds each):
- "chest x-ray results", "my breathing test appointment", "blood test" do not flag:
  they name a test, not a symptom.
- "bleeding gums" does not flag (not severe bleeding); "bleeding that won't stop",
  "bleeding heavily", "coughing up blood" do.
- "stroke" and "heart attack" flag whatever the tense ("I think I'm having a stroke"),
  unless dated ("had a stroke last year", "... years ago") or a history ("used to get").
- Self-harm flags on wording about the patient ("kill myself", "end my life", "don't want
  to live", "suicidal"); a negated mention ("I'm not suicidal") does not flag, like the
  rest: the care team still reads every message.
"""

import re
from functools import lru_cache

from rapidfuzz.distance import OSA

from assistant.nlu.redflags.rules import (
    CLAUSE_BREAK,
    COMMON,
    COMPILED,
    FALSE_FRIENDS,
    GONE,
    HEDGES,
    KEYWORDS,
    NEGATIONS,
)
from assistant.nlu.types import RedFlag


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    if len(word) < 4 or word in COMMON or word in KEYWORDS:
        return word
    allowed = 2 if len(word) >= 10 else 1
    best, best_distance = word, allowed + 1
    for keyword in KEYWORDS:
        if abs(len(keyword) - len(word)) > allowed:
            continue
        distance = OSA.distance(word, keyword, score_cutoff=allowed)
        if distance < best_distance:
            best, best_distance = keyword, distance
    return best


# Words that only colour what follows ("my chest feels really tight"): left out of the match.
INTENSIFIERS = frozenset(
    [
        "really",
        "very",
        "quite",
        "super",
        "extremely",
        "terribly",
        "awfully",
        "kinda",
        "pretty",
        "totally",
    ]
)


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped, other marks a space, known typos put right."""
    text = text.lower().replace("\u2019", "'").replace("'", "")
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(_corrected(word) for word in words if word not in INTENSIFIERS)


# "I don't want to hurt myself" is still about hurting oneself: for self-harm only the plain
# negations count ("I'm not suicidal", "no thoughts of harming myself").
SELF_HARM_NEGATIONS = frozenset(
    ["no", "not", "never", "without", "denies", "deny", "denied", "none"]
)


# "call us if you get chest pain", "what should I do if I get chest pain": advice asked or
# given about a symptom the patient does not have ("if I have chest pain" still flags).
HYPOTHETICAL = re.compile(
    r"\b(?:if|in case|whenever) (?:i|you|he|she|they|we|my \w+) "
    r"(?:ever )?(?:get|gets|develop|develops|start|starts|notice|notices)(?: any| some| a)?$"
)


def _negated(kind: str, before: str, after: str) -> bool:
    if kind != "self_harm" and HYPOTHETICAL.search(before.strip()):
        return True
    if kind != "self_harm" and re.search(r"\bused to(?: have| get)?(?: \S+)?\s*$", before):
        return True  # "I used to get chest pain": a history
    negations = SELF_HARM_NEGATIONS if kind == "self_harm" else NEGATIONS
    words = before.split()[-5:]
    for i, word in enumerate(words):
        if word in negations:
            rest = " ".join(words[i + 1 :])
            if not any(rest.startswith(hedge) for hedge in HEDGES):
                return True
    return bool(GONE.match(after))


# A check-in answer after the symptom: "chest pain? no", "shortness of breath: none".
ANSWERED_NO = frozenset(
    ["no", "none", "nope", "nah", "not really", "never", "negative", "nil", "no i dont"]
)


def red_flag(text: str) -> RedFlag | None:
    """The first red flag in the text, or None. Deterministic, no model, no I/O."""
    clauses = CLAUSE_BREAK.split(text)
    for index, clause in enumerate(clauses):
        words = normalise(clause)
        if not words:
            continue
        following = clauses[index + 1 : index + 2]
        if following and normalise(following[0]) in ANSWERED_NO:
            continue
        screened = FALSE_FRIENDS.sub(lambda m: "_" * len(m.group()), words)
        for kind, pattern in COMPILED.items():
            for match in pattern.finditer(screened):
                if not _negated(kind, words[: match.start()], words[match.end() :]):
                    return RedFlag(kind=kind, phrase=words[match.start() : match.end()])
    return None


def without_red_flag_words(text: str) -> str:
    """The text less its clauses that name a (negated) red flag, if anything else is left.

    For the classifier: in "no chest pain, just want to book a checkup" the request is in
    the second clause, and symptom words would pull it towards a message to the care team.
    """
    clauses = [clause for clause in CLAUSE_BREAK.split(text) if clause and clause.strip()]
    kept = [
        clause
        for clause in clauses
        if not any(pattern.search(normalise(clause)) for pattern in COMPILED.values())
    ]
    return " ".join(kept) if kept and len(kept) < len(clauses) else text

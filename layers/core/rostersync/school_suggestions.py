"""Which existing app school an SIS school probably is: the suggestion in setup step 3.

A suggestion saves the admin a search; a wrong one costs a wrong match if they do not look.
So the scoring is conservative: it would rather suggest nothing than a look-alike.

Scoring of one (SIS school, app school) pair:
1. Identifiers: when both carry one and they are equal, ignoring case, spaces, dashes and
   leading zeros ("0042" == "42"), the score is 2.0. That outranks any name.
2. Names. Each name is normalised: accents folded, lowercase, "&" read as "and",
   punctuation dropped, runs of initials joined ("P.S." is "ps"); "elem"/"es" read as elementary,
   "ms"/"jr high"/"junior high" as middle, "hs"/"sr high"/"senior high" as high; then the level word and the
   common words that do not tell schools apart (school, the, of, academy, campus, center, public, jr,
   sr, saint/st, ...) are set aside, leaving the distinctive tokens.
   - If both names state a school level and the levels differ ("Lincoln Elementary",
     "Lincoln Middle") the score is 0: same namesake, different school.
   - Otherwise the score is a fuzzy token overlap (Sørensen-Dice over tokens):
     2 * sum(similarity of paired tokens) / (tokens in A + tokens in B). Tokens pair
     one-to-one, best first; two tokens pair when equal, or, for words without digits
     that start with the same letter, when difflib's SequenceMatcher ratio is at least 0.8
     (typos: "Lincon", "Jeferson"; but "Westside" is not "Eastside"). Numbers pair only
     when equal: PS 123 is not PS 132. Word order does not matter.
   - A name left with no distinctive tokens (just "Elementary School") is compared on
     its full normalised text, and only equal texts score.
3. A pair is suggested when its score is at least THRESHOLD (0.8): every distinctive word
   must find its partner ("East Side" vs "West Side" scores 0.5; "George Washington" vs
   "Washington" 0.67), allowing a typo or two in a long name.

Suggestions are one-to-one across the district: every pair at or over the threshold is
ranked by score, ties going to the pair whose whole normalised names are closer (then
names, then ids, so the answer is stable), and taken greedily while both schools are
still free. Already matched schools on either side take no part.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

THRESHOLD = 0.8
IDENTIFIER_SCORE = 2.0
TOKEN_SIMILARITY = 0.8

ELEMENTARY, MIDDLE, HIGH = "elementary", "middle", "high"

_LEVEL_WORDS = {
    "elementary": ELEMENTARY,
    "elem": ELEMENTARY,
    "es": ELEMENTARY,
    "primary": ELEMENTARY,
    "middle": MIDDLE,
    "ms": MIDDLE,
    "intermediate": MIDDLE,
    "high": HIGH,
    "hs": HIGH,
}
# Two-word levels, checked before single words: "junior high" is a middle school.
_LEVEL_PAIRS = {
    ("junior", "high"): MIDDLE,
    ("jr", "high"): MIDDLE,
    ("senior", "high"): HIGH,
    ("sr", "high"): HIGH,
}
_COMMON_WORDS = frozenset(
    {
        "school",
        "schools",
        "sch",
        "the",
        "of",
        "and",
        "at",
        "for",
        "academy",
        "campus",
        "center",
        "centre",
        "public",
        "jr",
        "sr",
        "junior",
        "senior",
        "saint",
        "st",
        "ps",
        "k8",
        "k12",
    }
)


@dataclass(frozen=True)
class SchoolName:
    """A name taken apart for matching."""

    text: str  # the whole normalised name
    tokens: tuple[str, ...]  # the distinctive words
    level: str | None  # elementary | middle | high | None


def normalise_name(name: str | None) -> SchoolName:
    folded = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii").lower()
    folded = folded.replace("&", " and ").replace("'", "")  # "O'Neil" -> "oneil"
    words = _join_initials(re.sub(r"[^a-z0-9]+", " ", folded).split())
    level = None
    tokens: list[str] = []
    i = 0
    while i < len(words):
        pair = tuple(words[i : i + 2])
        if pair in _LEVEL_PAIRS:
            level = level or _LEVEL_PAIRS[pair]
            i += 2
            continue
        word = words[i]
        if word in _LEVEL_WORDS:
            level = level or _LEVEL_WORDS[word]
        elif word not in _COMMON_WORDS:
            tokens.append(word)
        i += 1
    return SchoolName(text=" ".join(words), tokens=tuple(tokens), level=level)


def _join_initials(words: list[str]) -> list[str]:
    """Runs of single letters are one abbreviation: "P.S. 123" -> ["ps", "123"]."""
    joined: list[str] = []
    run = ""
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        if word:
            joined.append(word)
    return joined


def normalise_identifier(identifier: str | None) -> str | None:
    text = re.sub(r"[\s\-_.]+", "", (identifier or "")).casefold()
    if text.isdigit():
        text = text.lstrip("0") or "0"
    return text or None


def _token_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if any(ch.isdigit() for ch in a + b) or a[0] != b[0]:
        return 0.0
    ratio = SequenceMatcher(None, a, b).ratio()
    return ratio if ratio >= TOKEN_SIMILARITY else 0.0


def name_score(a: SchoolName, b: SchoolName) -> float:
    if a.level and b.level and a.level != b.level:
        return 0.0
    if not a.tokens or not b.tokens:
        return 1.0 if a.text and a.text == b.text else 0.0
    pairs = sorted(
        ((_token_similarity(x, y), i, j) for i, x in enumerate(a.tokens) for j, y in enumerate(b.tokens)),
        reverse=True,
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    total = 0.0
    for similarity, i, j in pairs:
        if similarity == 0.0:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        total += similarity
    return 2 * total / (len(a.tokens) + len(b.tokens))


@dataclass(frozen=True)
class Candidate:
    """One side of a possible match: an SIS school or an app school."""

    id: str
    name: str | None
    identifier: str | None = None


def score(a: Candidate, b: Candidate) -> float:
    ident_a, ident_b = normalise_identifier(a.identifier), normalise_identifier(b.identifier)
    if ident_a and ident_a == ident_b:
        return IDENTIFIER_SCORE
    return name_score(normalise_name(a.name), normalise_name(b.name))


def suggest(sis_schools: list[Candidate], app_schools: list[Candidate]) -> dict[str, str]:
    """{SIS id: app school id} for the pairs worth suggesting, one-to-one."""
    ranked = []
    for sis in sis_schools:
        for app in app_schools:
            value = score(sis, app)
            if value >= THRESHOLD:
                closeness = SequenceMatcher(None, normalise_name(sis.name).text, normalise_name(app.name).text).ratio()
                ranked.append((-value, -closeness, sis.name or "", app.name or "", sis.id, app.id))
    ranked.sort()
    suggestions: dict[str, str] = {}
    taken: set[str] = set()
    for *_, sis_id, app_id in ranked:
        if sis_id in suggestions or app_id in taken:
            continue
        suggestions[sis_id] = app_id
        taken.add(app_id)
    return suggestions

"""School name matching (rostersync.school_suggestions): the scoring and the one-to-one suggestions."""

import pytest

from rostersync.school_suggestions import (
    THRESHOLD,
    Candidate,
    name_score,
    normalise_identifier,
    normalise_name,
    score,
    suggest,
)


def names(a: str, b: str) -> float:
    return name_score(normalise_name(a), normalise_name(b))


@pytest.mark.parametrize(
    "a, b",
    [
        ("Lincoln Elementary", "Lincoln Elementary School"),
        ("Lincoln Elementary", "LINCOLN ELEM."),
        ("Lincoln Elementary", "Lincon Elementary"),  # a typo
        ("Jefferson Jr. High", "Jefferson Middle School"),  # junior high is a middle school
        ("Roosevelt H.S.", "Roosevelt High"),
        ("Martin Luther King Jr. Elementary", "Martin Luther King Elementary School"),
        ("St. Mary's Academy", "Saint Marys"),
        ("Escuela Peña", "Escuela Pena"),  # accents
        ("Washington George", "George Washington"),  # word order
        ("P.S. 123", "PS 123"),
    ],
)
def test_the_same_school_written_differently_scores_over_the_threshold(a, b):
    assert names(a, b) >= THRESHOLD


@pytest.mark.parametrize(
    "a, b",
    [
        ("Lincoln Elementary", "Lincoln Middle School"),  # same namesake, different level
        ("Lincoln Elementary", "Lincoln High School"),
        ("East Side Elementary", "West Side Elementary"),
        ("North High", "South High"),
        ("PS 123", "PS 132"),  # numbers must be equal
        ("George Washington High", "Washington High"),  # which Washington?
        ("Adams Elementary", "Jefferson Elementary"),
        ("Elementary School", "High School"),
        ("", "Lincoln"),
    ],
)
def test_different_schools_score_under_the_threshold(a, b):
    assert names(a, b) < THRESHOLD


def test_normalisation_keeps_the_distinctive_words_and_the_level():
    name = normalise_name("The Thomas Jefferson Jr. High School of Science & Technology")
    assert name.tokens == ("thomas", "jefferson", "science", "technology")
    assert name.level == "middle"
    assert normalise_name("Roosevelt HS").level == "high"
    assert normalise_name("Roosevelt").level is None


def test_identifiers_compare_without_case_padding_or_punctuation():
    assert normalise_identifier(" 0042 ") == normalise_identifier("42")
    assert normalise_identifier("CA-123-456") == normalise_identifier("ca123456")
    assert normalise_identifier("") is None and normalise_identifier(None) is None
    assert normalise_identifier("000") == "0"


def test_an_equal_identifier_outranks_any_name():
    sis = Candidate("org-1", "Completely Different Name", "0042")
    assert score(sis, Candidate("sch-1", "Lincoln", "42")) > score(sis, Candidate("sch-2", "Completely Different Name"))


def test_suggestions_are_one_to_one_best_first():
    sis = [Candidate("o1", "Lincoln Elementary"), Candidate("o2", "Lincoln Elem"), Candidate("o3", "Adams Middle", "7")]
    app = [
        Candidate("s1", "Lincoln Elementary School"),
        Candidate("s2", "Adams Middle School", "0007"),
        Candidate("s3", "Kennedy High"),
    ]
    assert suggest(sis, app) == {"o1": "s1", "o3": "s2"}  # o1 and o2 tie for s1: the closer spelling wins


def test_suggestions_are_stable_whatever_the_input_order():
    sis = [
        Candidate(f"o{i}", n) for i, n in enumerate(["Lincoln Elem", "Lincoln Elementary", "Grant High", "Grant HS"])
    ]
    app = [Candidate(f"s{i}", n) for i, n in enumerate(["Lincoln Elementary", "Grant High School"])]
    assert suggest(sis, app) == suggest(list(reversed(sis)), list(reversed(app)))


def test_nothing_is_suggested_below_the_threshold():
    assert suggest([Candidate("o1", "Westside Academy")], [Candidate("s1", "Eastside Academy")]) == {}

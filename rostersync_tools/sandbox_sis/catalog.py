"""What a US district teaches: grade bands, school kinds and the courses each grade takes."""

from dataclasses import dataclass

GRADES = ("KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12")
ELEMENTARY_GRADES = GRADES[0:6]
MIDDLE_GRADES = GRADES[6:9]
HIGH_GRADES = GRADES[9:13]


@dataclass(frozen=True)
class SchoolKind:
    name: str  # "Elementary School", ...
    short: str  # used in sourcedIds: "es", "ms", "hs"
    grades: tuple[str, ...]


ELEMENTARY = SchoolKind("Elementary School", "es", ELEMENTARY_GRADES)
MIDDLE = SchoolKind("Middle School", "ms", MIDDLE_GRADES)
HIGH = SchoolKind("High School", "hs", HIGH_GRADES)
SECONDARY = SchoolKind("Junior/Senior High School", "jshs", MIDDLE_GRADES + HIGH_GRADES)
K12 = SchoolKind("K-12 Academy", "k12", GRADES)


def school_kinds(count: int) -> list[SchoolKind]:
    """The kinds of `count` schools so that every grade KG..12 is served.

    More elementary than middle schools, more middle than high schools, as in most districts.
    """
    if count == 1:
        return [K12]
    if count == 2:
        return [ELEMENTARY, SECONDARY]
    high = max(1, count // 5)
    middle = max(1, count // 4)
    elementary = count - high - middle
    return [ELEMENTARY] * elementary + [MIDDLE] * middle + [HIGH] * high


@dataclass(frozen=True)
class Offering:
    """A course a grade takes; its classes are sections of it."""

    title: str
    code: str  # courseCode; classCode is this plus a section number
    subject: str
    sced: str  # SCED subject code (subjectCodes)
    elective: bool = False  # open to every grade of the school
    semester: bool = False  # runs one term, not the whole year
    homeroom: bool = False


def grade_name(grade: str) -> str:
    return "Kindergarten" if grade == "KG" else f"Grade {int(grade)}"


def offerings_for(grade: str) -> list[Offering]:
    """The courses of one grade, core subjects first (they get sections first)."""
    if grade in ELEMENTARY_GRADES:
        name, code = grade_name(grade), grade
        return [
            Offering(f"{name} Homeroom", f"HR-{code}", "Homeroom", "72250", homeroom=True),
            Offering(f"{name} Mathematics", f"MATH-{code}", "Mathematics", "52031"),
            Offering(f"{name} English Language Arts", f"ELA-{code}", "English Language Arts", "51028"),
            Offering(f"{name} Science", f"SCI-{code}", "Science", "53231"),
            Offering(f"{name} Social Studies", f"SS-{code}", "Social Studies", "54431"),
            Offering(f"{name} Art", f"ART-{code}", "Art", "55131", semester=True),
            Offering(f"{name} Music", f"MUS-{code}", "Music", "55031", semester=True),
            Offering(f"{name} Physical Education", f"PE-{code}", "Physical Education", "58031"),
        ]
    if grade in MIDDLE_GRADES:
        n = int(grade)
        return [
            Offering(f"Mathematics {n}", f"MATH-{grade}", "Mathematics", "52041"),
            Offering(f"English {n}", f"ENG-{grade}", "English Language Arts", "51036"),
            Offering(f"Science {n}", f"SCI-{grade}", "Science", "53236"),
            Offering(f"Social Studies {n}", f"SS-{grade}", "Social Studies", "54436"),
            Offering("Middle School Art", "ART-MS", "Art", "55136", elective=True, semester=True),
            Offering("Concert Band", "BAND-MS", "Music", "55036", elective=True),
            Offering("Physical Education", "PE-MS", "Physical Education", "58036", elective=True),
            Offering("Spanish I", "SPAN-MS", "World Languages", "56101", elective=True),
        ]
    core = {
        "09": [
            ("English 9", "ENG-09", "English Language Arts", "01001"),
            ("Algebra I", "ALG1", "Mathematics", "02052"),
            ("Biology", "BIO", "Science", "03051"),
            ("World History", "WHIST", "Social Studies", "04051"),
        ],
        "10": [
            ("English 10", "ENG-10", "English Language Arts", "01002"),
            ("Geometry", "GEOM", "Mathematics", "02072"),
            ("Chemistry", "CHEM", "Science", "03101"),
            ("World Geography", "WGEO", "Social Studies", "04001"),
        ],
        "11": [
            ("English 11", "ENG-11", "English Language Arts", "01003"),
            ("Algebra II", "ALG2", "Mathematics", "02056"),
            ("Physics", "PHYS", "Science", "03151"),
            ("U.S. History", "USHIST", "Social Studies", "04101"),
        ],
        "12": [
            ("English 12", "ENG-12", "English Language Arts", "01004"),
            ("Precalculus", "PRECALC", "Mathematics", "02110"),
            ("Environmental Science", "ENVSCI", "Science", "03003"),
            ("Government", "GOV", "Social Studies", "04151"),
        ],
    }[grade]
    return [Offering(*course) for course in core] + [
        Offering("Spanish I", "SPAN1", "World Languages", "06101", elective=True),
        Offering("Art I", "ART1", "Art", "05154", elective=True, semester=True),
        Offering("Physical Education", "PE-HS", "Physical Education", "08001", elective=True, semester=True),
        Offering("Computer Science Principles", "CSP", "Computer Science", "10019", elective=True),
    ]

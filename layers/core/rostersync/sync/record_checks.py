"""What the sync refuses to store from a SIS, beyond what the OneRoster client already refuses
(records without a sourcedId, or without a reference they cannot do without):

- a status, user role or enrollment role outside OneRoster 1.1's values (an unknown status
  must not read as "gone"; the client keeps such values as given, the sync decides here);
- ids a sync cannot key on: over MAX_ID_CHARS, or not encodable text (lone surrogates);
- text a store or a front end cannot take: NUL characters and lone UTF-16 surrogates;
- text fields over MAX_TEXT_CHARS, and items whose fields together are over MAX_ITEM_CHARS
  (a DynamoDB item must stay under 400 KB: at most 4 bytes a character keeps it well under).

Such a record is skipped and reported in the run; its stored copy, if any, is kept as it is
(it did not leave the SIS, it is unreadable), and so are the records that depend on it (see
the engine's "kept" set). The checks cost a few set lookups per record; the text checks look
closer only at the rare item whose JSON is long or holds an escaped NUL.
"""

from rostersync.oneroster.records import ROLES, Enrollment, User

STATUSES = frozenset(("active", "tobedeleted", "inactive"))
KNOWN_ROLES = frozenset(ROLES.values())
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 2_000
MAX_ITEM_CHARS = 90_000


class Refused(ValueError):
    """A record the sync will not store: `code` and a message for the run's errors."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _id_problem(name: str, value) -> Refused | None:
    if value is None:
        return None
    if len(value) > MAX_ID_CHARS:
        return Refused(
            "value_too_long", f"The {name} is {len(value):,} characters long; at most {MAX_ID_CHARS} are accepted."
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return Refused("invalid_text", f"The {name} holds a lone UTF-16 surrogate, which is not text.")
    return None


def record_problem(record) -> Refused | None:
    """Why a parsed record cannot be used (its status, role or ids), or None."""
    if record.status not in STATUSES:
        return Refused(
            "unknown_value", f"The status {_shown(record.status)} is not a OneRoster 1.1 status (active, tobedeleted)."
        )
    problem = _id_problem("sourcedId", record.sourced_id)
    if problem is not None:
        return problem
    if isinstance(record, (User, Enrollment)):
        if record.role is None:
            return Refused("missing_value", "The record has no role.")
        if record.role not in KNOWN_ROLES:
            return Refused("unknown_value", f"The role {_shown(record.role)} is not a OneRoster 1.1 role.")
        if isinstance(record, Enrollment):
            return _id_problem("user reference", record.user_id) or _id_problem("class reference", record.class_id)
    elif hasattr(record, "school_id"):  # a class
        return _id_problem("school reference", record.school_id)
    return None


def check_fields(fields: dict, encoded: str) -> None:
    """Raise Refused for mapped `fields` a store or front end cannot take; `encoded` is their JSON
    (ensure_ascii=False), which content_hash has built anyway."""
    if len(encoded) <= MAX_TEXT_CHARS and "\\u0000" not in encoded:
        return  # the common case: short, and no NUL (json escapes it as \u0000)
    for name, value in fields.items():
        for text in value if isinstance(value, (list, tuple)) else (value,):
            if not isinstance(text, str):
                continue
            if "\x00" in text:
                raise Refused("invalid_text", f"The {name} holds a NUL character.")
            if len(text) > MAX_TEXT_CHARS:
                raise Refused(
                    "value_too_long",
                    f"The {name} is {len(text):,} characters long; at most {MAX_TEXT_CHARS:,} are accepted.",
                )
    if len(encoded) > MAX_ITEM_CHARS:
        raise Refused(
            "record_too_large",
            f"The record's fields take {len(encoded):,} characters; at most {MAX_ITEM_CHARS:,} fit in one stored item.",
        )


def unencodable(fields: dict) -> Refused:
    """The Refused for fields whose JSON could not be encoded as UTF-8 (a lone surrogate)."""
    for name, value in fields.items():
        for text in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    return Refused("invalid_text", f"The {name} holds a lone UTF-16 surrogate, which is not text.")
    return Refused("invalid_text", "A field holds text that is not valid UTF-8.")


def record_id_ok(value: str) -> bool:
    """Whether a sourcedId can be remembered (fingerprinted) by a sync."""
    return _id_problem("sourcedId", value) is None

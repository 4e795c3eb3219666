"""SandboxConfig: what district to generate and how the server behaves when it starts."""

from dataclasses import dataclass, field

DEFAULT_CLIENT_ID = "sandbox-client"
# A sandbox value, but still a secret: never printed, logged or shown in a repr.
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105  (the local sandbox's documented default)
ONEROSTER_BASE_PATH = "/ims/oneroster/v1p1"
ONEROSTER_BASE_PATHS = {"1.1": ONEROSTER_BASE_PATH, "1.2": "/ims/oneroster/rostering/v1p2"}


@dataclass
class SandboxConfig:
    seed: int = 42
    schools: int = 5
    students: int = 2000
    teachers: int = 120
    classes: int = 400
    enrollments: int = 10000
    page_cap: int = 1000
    latency_ms: int = 0
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = field(default=DEFAULT_CLIENT_SECRET, repr=False)
    # Vendors serve OneRoster below their own path ("/district42/ims/oneroster/v1p1").
    path_prefix: str = ""
    token_ttl_s: float = 3600
    # The school year's first calendar year (2026 for 2026-2027); None: the current school year,
    # so that day-1 dateLastModified values (May of that year) are always in the past.
    school_year: int | None = None
    guid_ids: bool = False  # sourcedIds as GUIDs (36 characters), as many vendors send them
    # The OneRoster versions served: 1.1 below /ims/oneroster/v1p1, 1.2 below /ims/oneroster/rostering/v1p2.
    versions: tuple[str, ...] = ("1.1", "1.2")

    def __post_init__(self):
        prefix = (self.path_prefix or "").strip().strip("/")
        self.path_prefix = f"/{prefix}" if prefix else ""
        for name in ("schools", "students", "teachers", "classes", "enrollments"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.schools < 1:
            raise ValueError("a district needs at least one school")
        self.versions = tuple(self.versions)
        if not self.versions or any(v not in ONEROSTER_BASE_PATHS for v in self.versions):
            raise ValueError(f"versions must be some of {', '.join(ONEROSTER_BASE_PATHS)}")
        if self.page_cap < 1:
            raise ValueError("page_cap must be at least 1")

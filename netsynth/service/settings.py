"""The service's settings, read once at the edge (the `serve` command) and passed down."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MiB = 2**20


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("netsynth-data")
    db_url: str | None = None               # default: sqlite file <data_dir>/netsynth.db
    max_jobs: int = 1                       # searches running at once (one process each)
    workers: int = 1                        # default per job (1 = in-process, >1 = Ray)
    max_workers: int = 8                    # the most a job may ask for
    ray_address: str | None = None          # None = an embedded local Ray per search process
    token: str | None = None                # bearer token; None = no authentication
    allowed_origins: tuple[str, ...] = ()   # other sites whose pages may write (Origin header)
    max_model_bytes: int = 64 * MiB
    max_spec_bytes: int = 1 * MiB
    default_timeout: float = 600.0          # seconds, when a submission names none
    max_timeout: float = 24 * 3600.0
    max_attempts: int = 3                   # starts of a job before it is failed
    lease: float = 30.0                     # seconds without a heartbeat before another server
                                            # takes over a running job
    search_nice: int = 10                   # niceness of search processes (the API stays quick)
    cancel_grace: float = 30.0              # seconds a cancelled search may take to stop before
                                            # its process is killed
    progress_interval: float = 0.5          # seconds between progress writes
    event_interval: float = 0.25            # seconds between store polls of an event stream
    event_heartbeat: float = 15.0           # seconds of an unchanged job between SSE comments
    tick: float = 0.25                      # seconds between the runner's looks at the store

    @property
    def uses_ray(self) -> bool:
        """Whether jobs may run on Ray (each search process starts or joins it when it must)."""
        return self.workers > 1 or self.ray_address is not None

    def to_json(self) -> dict[str, Any]:
        """What a search process needs to know (never the token)."""
        out = asdict(self)
        out.pop("token")
        out["data_dir"] = str(self.data_dir)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Settings":
        data = dict(data)
        data["data_dir"] = Path(data["data_dir"])
        data["allowed_origins"] = tuple(data.get("allowed_origins") or ())
        return cls(**data)

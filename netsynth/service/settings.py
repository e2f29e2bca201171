"""The service's settings, read once at the edge (the `serve` command) and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MiB = 2**20


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("netsynth-data")
    db_url: str | None = None               # default: sqlite file <data_dir>/netsynth.db
    max_jobs: int = 1                       # searches running at once
    workers: int = 1                        # default per job (1 = in-process, >1 = Ray)
    max_workers: int = 8                    # the most a job may ask for
    ray_address: str | None = None          # None = an embedded local Ray, shared by jobs
    token: str | None = None                # bearer token; None = no authentication
    max_model_bytes: int = 64 * MiB
    max_spec_bytes: int = 1 * MiB
    default_timeout: float = 600.0          # seconds, when a submission names none
    max_timeout: float = 24 * 3600.0
    progress_interval: float = 0.5          # seconds between progress writes
    event_interval: float = 0.25            # seconds between store polls of an event stream

    @property
    def uses_ray(self) -> bool:
        """Whether jobs may run on Ray: then Ray is started (or joined) when the server starts."""
        return self.workers > 1 or self.ray_address is not None

"""What resource services need from outside the database: URL naming, compute and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hostplane.compute.port import ComputeDriver
from hostplane.urls import Platform


@dataclass(frozen=True)
class Env:
    platform: Platform
    driver: ComputeDriver
    now: datetime

"""What ``serve --workers N`` (N > 1) needs: one shared database and one Redis, or it refuses.

Several workers on SQLite would fight over one file's write lock, and without Redis each would
run its own bus and scheduler: clients of one worker would miss the others' signals and the
periodic analysis would run N times. A replay plays one simulated clock per process. A lease
TTL as long as the periodic interval would move a dead worker's analysis too late. Each refusal
is one line naming the setting to change.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from tradewind.settings import Settings

__all__ = ["workers_problem"]


def workers_problem(settings: Settings) -> str | None:
    """Why these settings cannot run several workers, or None when they can."""
    try:
        backend = make_url(settings.database_url).get_backend_name()
    except Exception:  # noqa: BLE001 - an unparsable URL is refused at start with its own message
        backend = "unknown"
    if backend != "postgresql":
        return (f"--workers > 1 needs PostgreSQL: set TRADEWIND_DATABASE_URL to postgresql://... "
                f"(it is {backend}, which one process only may write)")
    if not settings.redis_url:
        return ("--workers > 1 needs Redis: set TRADEWIND_REDIS_URL (redis://host:port/db) for the bus "
                "and the leases the workers share")
    if settings.feed == "replay":
        return "--workers > 1 cannot replay: TRADEWIND_FEED=replay plays one simulated clock per process"
    interval = settings.analysis_interval_minutes * 60
    if interval and settings.lease_ttl_seconds >= interval:
        return (f"TRADEWIND_LEASE_TTL_SECONDS ({settings.lease_ttl_seconds:g}) must be under the periodic interval "
                f"({interval:g} s, TRADEWIND_ANALYSIS_INTERVAL_MINUTES), or a dead worker's analysis would move "
                "to another later than one interval")
    return None

"""Migration revisions, one file per schema change, named ``YYYY_MM_DD_<rev>_<slug>.py``."""

__all__: list[str] = []

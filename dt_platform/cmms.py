"""The CMMS work-order export, as the simulator writes it and ingestion reads it (docs/dumps.md):
the folder under ``landing/`` it goes to, and its columns in order."""

MAINTENANCE_FOLDER = "cmms"
"""Work-order exports land in ``landing/cmms/``; the sensor-dump loader skips that folder."""

CMMS_COLUMNS = (
    "work_order",
    "machine_id",
    "started_at",
    "finished_at",
    "kind",
    "action",
    "component",
    "notes",
)

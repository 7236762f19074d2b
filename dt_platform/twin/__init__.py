"""The two-way twin: reported and desired state, signed commands, alarms.

The operational state lives in one SQLite file (``Settings.twin_db_path``, WAL mode): many small
writers (the MQTT bridge, the CLI, the dashboard) while DuckDB keeps one writer for the pipeline.
"""

"""Quarterly supervision reports per node (PDF and XLSX), built from the snapshots by a Celery job."""

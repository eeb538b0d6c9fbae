from flask import current_app

from app.worker import celery


@celery.task(name="audit.export_heads")
def export_heads() -> int:
    """Append the head of every audit chain to MBOLO_DATA_DIR/audit-heads.jsonl (the daily export when
    Celery beat, not the systemd timer, schedules it); returns how many chains were exported."""
    from app.audit import services
    from app.platform import owner_engine

    return len(services.export_heads(owner_engine(current_app), services.default_heads_path()))

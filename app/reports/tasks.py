"""Celery jobs of reports: build one report (progress visible on its page), and the quarterly schedule."""

from __future__ import annotations

from celery.schedules import crontab

from app.extensions import db
from app.worker import celery

celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    # 1 January, April, July, October at 05:00 (after the night's snapshot refresh).
    "reports.quarterly": {
        "task": "reports.quarterly",
        "schedule": crontab(hour=5, minute=0, day_of_month=1, month_of_year="1,4,7,10"),
    },
}


@celery.task(name="reports.generate")
def generate_report_task(public_id: str) -> str:
    """Build a queued report; each step is committed so that its page shows the progress."""
    from app.reports import services

    try:
        report = services.generate(db.session, public_id, progress=lambda _p: db.session.commit())
        return report.status
    except Exception as error:
        db.session.rollback()
        services.mark_failed(db.session, public_id, error)
        db.session.commit()
        raise


@celery.task(name="reports.quarterly")
def quarterly_reports_task() -> int:
    from app.reports.services import schedule_quarterly

    return len(schedule_quarterly(db.session))

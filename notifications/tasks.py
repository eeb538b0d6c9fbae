from app.extensions import db
from app.worker import celery
from tenants.context import current_tenant_of


@celery.task(name="notifications.deliver_message")
def deliver_message(public_id: str) -> str:
    """Deliver one outbox message of the task's tenant."""
    from notifications import services

    message = services.deliver_message(db.session, current_tenant_of(db.session), public_id)
    return message.status.value

"""Entry point of ``celery -A app.celery_main:celery worker|beat``: builds the Flask app once."""

from app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]

"""Deployment files (gunicorn, nginx, systemd, compose); see infra/README.md."""

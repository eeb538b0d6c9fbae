"""``mbolo admin``: the first administrator, and break-glass help."""

import re

from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.extensions import db
from app.security.models import Account

PASSPHRASE = "la pirogue rentre au port de Soumbédioune"


def test_the_first_administrator_is_invited_from_the_command_line(app, monkeypatch):
    monkeypatch.setattr("app.cli._app", lambda: app)
    runner = CliRunner()
    result = runner.invoke(main, ["admin", "invite", "chef@sante.gouv.sn", "--name", "Fatou Sarr"])
    assert result.exit_code == 0, result.output
    path = re.search(r"http://[^/]+(/invitation/\S+)", result.output).group(1)
    client = app.test_client()
    assert client.post(path, data={"password": PASSPHRASE, "confirm": PASSPHRASE}).status_code == 302
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == "chef@sante.gouv.sn"))
        assert account.is_platform_admin and account.status.value == "active"

    again = runner.invoke(main, ["admin", "invite", "chef@sante.gouv.sn", "--name", "Fatou Sarr"])
    assert again.exit_code != 0 and "existe déjà" in again.output


def test_unlock_and_reset_mfa_from_the_command_line(app, monkeypatch, make_staff):
    monkeypatch.setattr("app.cli._app", lambda: app)
    staff = make_staff(("ASS-A", "association_agent"))
    client = app.test_client()
    for _ in range(5):
        client.post("/connexion", data={"login": staff.email, "password": "wrong"})
    runner = CliRunner()
    assert runner.invoke(main, ["admin", "unlock", staff.email]).exit_code == 0
    assert runner.invoke(main, ["admin", "reset-mfa", staff.email]).exit_code == 0
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == staff.email))
        assert account.locked_until is None and not account.has_mfa
    assert runner.invoke(main, ["admin", "unlock", "nobody@test.sn"]).exit_code != 0

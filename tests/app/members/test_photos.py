"""Photos and consent scans: checked, re-encoded, stored outside the rows, served only within reach."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.errors import FieldError
from app.media import path_of
from app.members import cards, photos, services
from app.members.models import Consent, Member
from tests.app.members.conftest import person
from tests.app.members.test_cards import TODAY, events, in_tenant, make_household, new_member, token_for
from tests.fixtures.app import SYSTEM, node


@pytest.fixture(autouse=True)
def generous_rate(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MBOLO_VERIFY_RATE", "1000 per minute")


def image_bytes(size: tuple[int, int], fmt: str = "PNG", *, mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 0)).save(out, fmt, **save)
    return out.getvalue()


def upload(data: bytes, name: str, mimetype: str = "application/octet-stream") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type=mimetype)


def stored_photo(app: Flask, world: object, number: str) -> tuple[str | None, tuple[int, int] | None]:
    with in_tenant(app, world.alpha) as session:  # type: ignore[attr-defined]
        member = session.scalar(select(Member).where(Member.number == number))
        if member.photo_path is None:
            return None, None
        with Image.open(path_of(world.alpha, member.photo_path)) as image:  # type: ignore[attr-defined]
            assert image.format == "JPEG"
            return member.photo_path, image.size


def test_an_uploaded_photo_is_shrunk_and_served_to_staff(app, client, login, world):
    household = make_household(app, world)
    login("manager.a@test.sn")
    url = f"/alpha/adherents/{household.principal.public_id}/photo"
    assert client.get(url).status_code == 200
    big = image_bytes((2000, 1500))
    response = client.post(
        url, data={"photo": (io.BytesIO(big), "photo.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/alpha/adherents/{household.principal.public_id}")
    path, size = stored_photo(app, world, household.principal.number)
    assert path and path.startswith("alpha/photos/") and size[0] <= 480 and size[1] <= 600
    assert size == (480, 360)  # proportions kept
    served = client.get(f"{url}.jpg")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "no-store" and served.data.startswith(b"\xff\xd8")
    (event,) = events(app, world, "members.photo_updated", household.principal.number)
    assert event.details["before"] == {"photo_path": None} and event.details["after"] == {"photo_path": path}


def test_a_text_file_is_refused_next_to_the_field(app, client, login, world):
    household = make_household(app, world)
    login("manager.a@test.sn")
    url = f"/alpha/adherents/{household.principal.public_id}/photo"
    response = client.post(
        url,
        data={"photo": (io.BytesIO(b"hello, not a photo"), "notes.txt")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="photo-error"' in page and "Format non accepté" in page
    assert stored_photo(app, world, household.principal.number) == (None, None)
    missing = client.post(url, data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choisissez une photo" in missing.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just text", "notes.txt", "Format non accepté"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.png", "illisible"),
        (image_bytes((40, 40), "GIF"), "photo.gif", "Format non accepté"),
        (b"\xff\xd8\xff" + b"\x00" * (photos.PHOTO_MAX_BYTES + 1), "huge.jpg", "trop volumineux"),
        (b"", "empty.jpg", "vide"),
    ],
)  # fmt: skip
def test_photo_refusals_say_why(alpha, world, data, name, message):
    member = new_member(alpha, world)
    with pytest.raises(FieldError, match=message) as error:
        photos.store_photo(alpha, world.alpha, SYSTEM, member, upload(data, name))
    assert error.value.field == "photo" and member.photo_path is None


def test_a_photo_is_turned_upright_and_flattened(alpha, world):
    member = new_member(alpha, world)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": a phone held upright
    sideways = image_bytes((1200, 600), "JPEG", exif=exif.tobytes())
    photos.store_photo(alpha, world.alpha, SYSTEM, member, upload(sideways, "IMG_0001.JPG", "image/jpeg"))
    with Image.open(path_of(world.alpha, member.photo_path)) as image:
        assert image.size == (300, 600) and not image.getexif()  # upright; metadata dropped
    transparent = image_bytes((100, 100), "WEBP", mode="RGBA")
    photos.store_photo(alpha, world.alpha, SYSTEM, member, upload(transparent, "x.webp", "image/webp"))
    with Image.open(path_of(world.alpha, member.photo_path)) as image:
        assert image.mode == "RGB" and image.getpixel((50, 50))[0] > 240  # white, not black
    alpha.rollback()


def test_files_follow_the_transaction(alpha, world):
    member = new_member(alpha, world)
    first = photos.store_photo(alpha, world.alpha, SYSTEM, member, upload(image_bytes((50, 60)), "a.png"))
    alpha.commit()
    second = photos.store_photo(alpha, world.alpha, SYSTEM, member, upload(image_bytes((50, 60)), "b.png"))
    alpha.rollback()  # refused: the new file goes, the old one stays
    assert path_of(world.alpha, first).is_file() and not path_of(world.alpha, second).exists()
    alpha.refresh(member)
    assert member.photo_path == first
    third = photos.store_photo(alpha, world.alpha, SYSTEM, member, upload(image_bytes((50, 60)), "c.png"))
    alpha.commit()  # kept: the replaced file goes
    assert path_of(world.alpha, third).is_file() and not path_of(world.alpha, first).exists()


def test_the_verify_page_shows_the_photo_of_a_valid_card_only(app, client, world):
    household = make_household(app, world)
    number = household.principal.number
    with in_tenant(app, world.alpha) as session:
        member = session.scalar(select(Member).where(Member.number == number))
        photos.store_photo(session, world.alpha, SYSTEM, member, upload(image_bytes((480, 600)), "p.png"))
        session.commit()
    valid = token_for(app, world, number, TODAY + dt.timedelta(days=30))
    expired = token_for(app, world, number, TODAY - dt.timedelta(days=1))
    page = client.get(f"/alpha/verify/{valid}").get_data(as_text=True)
    assert f'src="/alpha/verify/{valid}/photo.jpg"' in page
    photo = client.get(f"/alpha/verify/{valid}/photo.jpg")
    assert photo.status_code == 200 and photo.headers["Cache-Control"] == "no-store"
    assert "photo.jpg" not in client.get(f"/alpha/verify/{expired}").get_data(as_text=True)
    assert client.get(f"/alpha/verify/{expired}/photo.jpg").status_code == 404
    assert client.get(f"/alpha/verify/{valid[:-6]}AAAAAA/photo.jpg").status_code == 404


def test_the_card_prints_the_stored_photo(app, world, monkeypatch):
    monkeypatch.setattr(cards, "PDF_COMPRESSION", False)
    household = make_household(app, world)
    with in_tenant(app, world.alpha) as session:
        member = session.scalar(select(Member).where(Member.number == household.principal.number))
        without = cards.card_pdf(cards.card_faces(session, world.alpha, [member], link=str)[0])
        photos.store_photo(session, world.alpha, SYSTEM, member, upload(image_bytes((480, 600)), "p.png"))
        with_photo = cards.card_pdf(cards.card_faces(session, world.alpha, [member], link=str)[0])
        session.rollback()
    assert without.count(b"/Subtype /Image") == 1 and with_photo.count(b"/Subtype /Image") == 2


# --- consent scans -----------------------------------------------------------------------------------------


def test_a_signed_consent_scan_is_kept_and_served_as_a_download(app, client, login, world):
    household = make_household(app, world, dependants=1)
    login("manager.a@test.sn")
    # from the ayant droit's page too: the consent is the household's
    url = f"/alpha/adherents/{household.dependants[0].public_id}/consentement/scan"
    assert client.get(url).status_code == 200
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = client.post(
        url, data={"scan": (io.BytesIO(pdf), "scan.pdf")}, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    with in_tenant(app, world.alpha) as session:
        principal = session.scalar(select(Member).where(Member.number == household.principal.number))
        consent = session.scalar(select(Consent).where(Consent.member_id == principal.id))
        consent_id, scan_path = consent.public_id, consent.scan_path
    assert scan_path.startswith("alpha/consents/") and scan_path.endswith(".pdf")
    served = client.get(f"/alpha/adherents/{household.principal.public_id}/consentement/{consent_id}/scan")
    assert served.status_code == 200 and served.data == pdf
    assert served.headers["Content-Disposition"].startswith("attachment")
    (event,) = events(app, world, "members.consent_scan_stored", household.principal.number)
    assert event.details["after"] == {"scan_path": scan_path}
    refused = client.post(url, data={"scan": (io.BytesIO(b"PK\x03\x04 docx"), "scan.docx")},
                          content_type="multipart/form-data")  # fmt: skip
    assert refused.status_code == 422 and "PDF ou en photo" in refused.get_data(as_text=True)


def test_a_photographed_consent_is_reencoded(alpha, world):
    member = new_member(alpha, world)
    consent = services.current_consent(alpha, member)
    path = photos.store_consent_scan(
        alpha, world.alpha, SYSTEM, consent, upload(image_bytes((3000, 4000), "JPEG"), "page.jpg")
    )
    with Image.open(path_of(world.alpha, path)) as image:
        assert image.format == "JPEG" and image.size == (2000, 2667)
    alpha.rollback()


def test_no_consent_no_scan_page(app, client, login, world):
    with in_tenant(app, world.alpha) as session:  # an imported register: no consent collected yet
        member = services.enrol(
            session,
            world.alpha,
            SYSTEM,
            person=person(),
            association_id=node("ASS-A").id,
            sector="artisanat",
            allow_duplicates=True,
        )
        session.commit()
        public_id = member.public_id
    login("manager.a@test.sn")
    assert client.get(f"/alpha/adherents/{public_id}/consentement/scan").status_code == 404
    assert client.get(f"/alpha/adherents/{public_id}/consentement/unknown/scan").status_code == 404

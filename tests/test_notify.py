"""Mail when a batch ends: a real SMTP server (aiosmtpd) on localhost, and the .eml outbox."""

from __future__ import annotations

import email
import email.policy
import io
import os
import socket
import subprocess
import sys

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import JAS, MOK, SOK, TRUI

from backorder_ops import StructureError, apply_batch, read_sheet, submit_batch
from backorder_ops.notify import retry_notify, smtp_settings

PASTED = f"EAN\tBackorder toegestaan?\n{JAS}\tja\n{TRUI}\tnee\n{MOK}\tmisschien\n{SOK}\tnee\n"


def free_port() -> int:
    # aiosmtpd's Controller cannot take port 0: ask the system for a free port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self):
        return [
            email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes
        ]


@pytest.fixture
def smtp_server(monkeypatch):
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"analist" and auth_data.password == b"geheim"
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    monkeypatch.setenv("BACKORDER_OPS_SMTP_URL", f"smtp://analist:geheim@127.0.0.1:{port}")
    monkeypatch.setenv("BACKORDER_OPS_MAIL_FROM", "batches@webshop.nl")
    yield inbox
    controller.stop()


def body_and_attachment(message):
    body = message.get_body(preferencelist=("plain",)).get_content()
    (attachment,) = list(message.iter_attachments())
    workbook = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    return body, attachment.get_filename(), workbook


def test_the_mail_reaches_a_real_smtp_server(tiny, smtp_server):
    result = apply_batch(
        read_sheet(text=PASTED), db=tiny, reference="week 49", notify="inkoop@webshop.nl"
    )
    assert result.status == "done"
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["inkoop@webshop.nl"]
    assert envelope.mail_from == "batches@webshop.nl"
    (message,) = smtp_server.messages()
    assert "week 49" in message["Subject"] and "done" in message["Subject"]
    body, filename, workbook = body_and_attachment(message)
    assert "Rows: 4  applied: 3  unchanged: 0  rejected: 1" in body
    assert "Products that disappear from the shop: 4" in body
    assert "invalid_value: 1" in body
    assert filename == f"batch-{result.batch_id}.xlsx"
    assert "Verdwijnt" in workbook.sheetnames
    eans = [row[0] for row in workbook["Verdwijnt"].iter_rows(min_row=2, values_only=True)]
    assert sorted(eans) == sorted(result.newly_hidden["ean"])
    record = tiny.read_batch_record(result.batch_id)
    assert record["notify_status"] == "sent"


def test_a_refused_connection_is_recorded_and_the_batch_stands(tiny, monkeypatch, smtp_server):
    working = os.environ["BACKORDER_OPS_SMTP_URL"]
    monkeypatch.setenv("BACKORDER_OPS_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    result = apply_batch(read_sheet(text=PASTED), db=tiny, notify="inkoop@webshop.nl")
    record = tiny.read_batch_record(result.batch_id)
    assert (record["status"], record["notify_status"]) == ("done", "failed")
    assert "could not send the mail" in record["notify_error"]
    assert tiny.read_products().set_index("ean").at[JAS, "backorder_allowed"]  # applied
    assert smtp_server.envelopes == []

    # The server is back: try again.
    monkeypatch.setenv("BACKORDER_OPS_SMTP_URL", working)
    assert retry_notify(result.batch_id, db=tiny).status == "sent"
    assert tiny.read_batch_record(result.batch_id)["notify_status"] == "sent"
    assert len(smtp_server.envelopes) == 1


def test_a_refused_or_failed_batch_is_mailed_too(tiny, smtp_server):
    result = apply_batch(read_sheet(text=PASTED), db=tiny, strict=True, notify="a@webshop.nl")
    assert result.status == "refused"
    (message,) = smtp_server.messages()
    assert "refused" in message["Subject"]


def test_without_smtp_the_mail_is_written_to_the_outbox(tiny, monkeypatch):
    monkeypatch.delenv("BACKORDER_OPS_SMTP_URL", raising=False)
    result = apply_batch(read_sheet(text=PASTED), db=tiny, reference="r", notify="a@webshop.nl")
    assert result.notify_status == "written"
    files = list((tiny.path.parent / "outbox").glob("*.eml"))
    assert [str(f) for f in files] == [result.notify_detail]
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "a@webshop.nl"
    body, _, workbook = body_and_attachment(message)
    assert "applied: 3" in body and workbook.sheetnames


def test_the_cli_says_where_the_mail_went(tiny, monkeypatch):
    monkeypatch.delenv("BACKORDER_OPS_SMTP_URL", raising=False)
    run = subprocess.run(
        [sys.executable, "-m", "backorder_ops", "--db", str(tiny.path), "batch", "apply", "-",
         "--notify", "a@webshop.nl"],
        input=PASTED, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "the mail was written to" in run.stdout and ".eml" in run.stdout


def test_an_invalid_address_is_refused_before_anything_runs(tiny):
    with pytest.raises(StructureError, match="not an e-mail address"):
        submit_batch(read_sheet(text=PASTED), db=tiny, notify="inkoop at webshop")
    run = subprocess.run(
        [sys.executable, "-m", "backorder_ops", "--db", str(tiny.path), "batch", "apply", "-",
         "--notify", "inkoop at webshop"],
        input=PASTED, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2 and "not an e-mail address" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.nl", ("mail.example.nl", 25, False, False, None)),
        ("smtps://u:p%40ss@mail.example.nl", ("mail.example.nl", 465, True, False, "u")),
        ("smtp://u:p@mail.example.nl:587?starttls=1", ("mail.example.nl", 587, False, True, "u")),
    ],
)
def test_smtp_urls(monkeypatch, url, expected):
    monkeypatch.setenv("BACKORDER_OPS_SMTP_URL", url)
    s = smtp_settings()
    assert (s["host"], s["port"], s["ssl"], s["starttls"], s["user"]) == expected


def test_a_wrong_smtp_url_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BACKORDER_OPS_SMTP_URL", "http://mail.example.nl")
    with pytest.raises(StructureError, match="smtp://"):
        smtp_settings()

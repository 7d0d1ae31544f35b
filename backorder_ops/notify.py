"""Mail when a batch ends ("Stuur mij een mail wanneer de taak is volbracht").

Transport: SMTP from ``BACKORDER_OPS_SMTP_URL`` (``smtp://user:password@host:port``,
``smtps://...``, or ``...?starttls=1``) with ``BACKORDER_OPS_MAIL_FROM`` as sender.
With no SMTP configured, the mail is written as an ``.eml`` file in the outbox
(``outbox/`` beside the database, or ``BACKORDER_OPS_OUTBOX``). A mail that cannot
be sent is recorded on the batch and never undoes it.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .batch import BatchResult
from .errors import StructureError
from .store import Store

FIRST_PRODUCTS = 50
DEFAULT_SENDER = "backorder-ops@localhost"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Delivery:
    """Where a mail went: ``sent`` over SMTP, ``written`` to the outbox, or ``failed``."""

    status: str
    detail: str


def build_message(result: BatchResult, address: str, *, sender: str | None = None) -> EmailMessage:
    """The mail for a finished batch: subject with reference and status, counts, products."""
    s = result.summary()
    label = f"'{result.reference}'" if result.reference else result.source
    status_nl = {"done": "klaar", "failed": "mislukt", "refused": "geweigerd"}.get(
        result.status, result.status
    )
    message = EmailMessage()
    message["Subject"] = (
        f"Product Backorder batch {result.batch_id} {label}: {status_nl} ({result.status})"
    )
    message["From"] = sender or os.environ.get("BACKORDER_OPS_MAIL_FROM") or DEFAULT_SENDER
    message["To"] = address
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="backorder-ops")

    lines = [
        f"Batch {result.batch_id} ({result.source}) ended with status '{result.status}'.",
        f"Referentie: {result.reference or '-'}",
        "",
        f"Rows: {s['rows']}  applied: {s['applied']}  unchanged: {s['unchanged']}  "
        f"rejected: {s['rejected']}",
        f"Products that disappear from the shop: {len(result.newly_hidden)}",
        f"Products that reappear in the shop: {len(result.newly_visible)}",
    ]
    if result.error:
        lines += ["", result.error]
    if not result.newly_hidden.empty:
        shown = result.newly_hidden.head(FIRST_PRODUCTS)
        lines += ["", f"Disappear (first {len(shown)} of {len(result.newly_hidden)}):"]
        lines += (
            "  " + shown["ean"].astype("str") + "  " + shown["name"].fillna("").astype("str")
            + "  (stock " + shown["stock"].astype("str") + ")"
        ).tolist()  # fmt: skip
    rejected = result.rejected
    if not rejected.empty:
        lines += ["", f"Rejected rows ({len(rejected)}), by reason:"]
        counts = rejected["reason"].value_counts()
        lines += [f"  {reason}: {count}" for reason, count in counts.items()]
        lines += ["", "First rejected rows:"]
        lines += ("  " + rejected["message"].head(FIRST_PRODUCTS)).tolist()
    lines += ["", "The full result is attached as a spreadsheet."]
    message.set_content("\n".join(lines))
    message.add_attachment(
        result_workbook(result),
        maintype="application",
        subtype=XLSX.split("/", 1)[1],
        filename=f"batch-{result.batch_id}.xlsx",
    )
    return message


def result_workbook(result: BatchResult) -> bytes:
    """The batch's result as an .xlsx workbook (the same as ``report batch ID --out``)."""
    from .report import Report

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"batch-{result.batch_id}.xlsx"
        Report.from_batch(result).write(path)
        return path.read_bytes()


def smtp_settings() -> dict | None:
    """The SMTP settings from ``BACKORDER_OPS_SMTP_URL``, or None when unset."""
    url = os.environ.get("BACKORDER_OPS_SMTP_URL")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise StructureError(
            f"BACKORDER_OPS_SMTP_URL '{url}' is not an smtp:// or smtps:// address "
            "(smtp://user:password@host:port)."
        )
    query = parse_qs(parts.query)
    return {
        "ssl": parts.scheme == "smtps",
        "starttls": query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
        "host": parts.hostname,
        "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def deliver(message: EmailMessage, *, outbox: Path, timeout: float = 30) -> Delivery:
    """Send over SMTP if configured, else write an .eml file to ``outbox``."""
    settings = smtp_settings()
    if settings is None:
        outbox.mkdir(parents=True, exist_ok=True)
        name = message["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
        path = outbox / f"{name}.eml"
        path.write_bytes(bytes(message))
        return Delivery("written", str(path))
    try:
        context = ssl.create_default_context()
        cls = smtplib.SMTP_SSL if settings["ssl"] else smtplib.SMTP
        kwargs = {"context": context} if settings["ssl"] else {}
        with cls(settings["host"], settings["port"], timeout=timeout, **kwargs) as smtp:
            if settings["starttls"]:
                smtp.starttls(context=context)
            if settings["user"]:
                smtp.login(settings["user"], settings["password"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        where = f"{settings['host']}:{settings['port']}"
        return Delivery("failed", f"could not send the mail via {where}: {error}")
    return Delivery("sent", f"{message['To']} via {settings['host']}:{settings['port']}")


def outbox_for(store: Store) -> Path:
    """``BACKORDER_OPS_OUTBOX``, else ``outbox/`` beside the database file."""
    return Path(os.environ.get("BACKORDER_OPS_OUTBOX") or store.path.parent / "outbox")


def notify_batch(store: Store, result: BatchResult) -> Delivery:
    """Mail a finished batch's result to its notify address and record the outcome."""
    try:
        message = build_message(result, result.notify)
        delivery = deliver(message, outbox=outbox_for(store))
    except Exception as error:  # a mail problem never undoes the batch
        delivery = Delivery("failed", f"could not build or send the mail: {error}")
    with store.transaction() as con:
        store.update_batch(
            con,
            result.batch_id,
            notify_status=delivery.status,
            notify_error=delivery.detail,
        )
    result.notify_status, result.notify_detail = delivery.status, delivery.detail
    return delivery


def retry_notify(batch_id: int, *, db: Store | str | None = None) -> Delivery:
    """Try again to mail a finished batch whose mail failed (or send it once more)."""
    from .jobs import FINAL_STATUSES, result_from_history
    from .visibility import as_store

    store = as_store(db)
    result = result_from_history(store, batch_id)
    if not result.notify:
        raise StructureError(f"Batch {batch_id} has no address to mail (no --notify).")
    if result.status not in FINAL_STATUSES:
        raise StructureError(f"Batch {batch_id} has not finished yet ({result.status}).")
    return notify_batch(store, result)

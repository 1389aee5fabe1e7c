"""The bill PDF (Typst), its OCR scan line, Spanish bills, e-bills and the print file."""

from __future__ import annotations

import copy
import io
from datetime import UTC, date, datetime

import pikepdf
import pytest
from django.core import mail

from ohm.billing import operations, presentment
from ohm.billing.models import Bill
from ohm.core.audit import SystemActor
from ohm.customers.models import Account
from ohm.payments.scanline import build_scan_line, parse_scan_line
from tests.billing.support import delivered_channel, served_with_rate, store_local_days
from tests.billing.test_operations import APRIL, AT

ACTOR = SystemActor("tests")


def issued_bill(**account) -> Bill:
    acct = served_with_rate(**account)
    store_local_days(delivered_channel(acct), date(2026, 3, 1), date(2026, 4, 1))
    (bill,) = operations.bill_accounts(account_ids=[acct.pk], dates=APRIL, at=AT, actor=ACTOR).bills
    return Bill.objects.select_related("account").get(pk=bill.pk)


@pytest.mark.django_db
class TestBillDocument:
    def test_every_line_and_the_scan_line_are_in_the_data(self):
        bill = issued_bill()

        ((_, data),) = presentment.documents([bill], scan_line=build_scan_line)

        described = [line["description"] for line in data["segments"][0]["lines"]]
        assert described == [line.description for line in bill.line_list()]
        assert data["total_due"] == "$89.66"
        scan = parse_scan_line(data["scan_line"])
        assert scan.account_number == bill.account.number
        assert scan.amount_due_cents == bill.total_due_cents
        assert data["history"][-1]["kwh"] == "734"

    def test_the_pdf_renders(self):
        bill = issued_bill()

        pdf = presentment.bill_pdf(bill, scan_line=build_scan_line)

        assert pdf.startswith(b"%PDF-")
        assert len(pdf) > 5_000

    def test_a_spanish_speaking_account_gets_a_spanish_bill(self):
        bill = issued_bill()
        Account.objects.filter(pk=bill.account_id).update(language="es")
        Bill.objects.filter(pk=bill.pk).update(language="es")
        bill.refresh_from_db()

        ((_, data),) = presentment.documents([bill], scan_line=build_scan_line)

        assert data["labels"]["total_due"] == "Total a pagar"
        assert data["due_date"] == "23 de abril de 2026"
        assert data["segments"][0]["lines"][0]["description"].startswith("Cargo fijo")
        assert presentment.bill_pdf(bill, scan_line=build_scan_line).startswith(b"%PDF-")

    def test_customer_text_is_never_markup(self):
        bill = issued_bill()
        Account.objects.filter(pk=bill.account_id).update(address_line1='#exit() *bold* "quoted"')

        pdf = presentment.bill_pdf(bill, scan_line=build_scan_line)

        assert pdf.startswith(b"%PDF-")


def pages_and_title(pdf: bytes) -> tuple[int, str]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages), str(doc.docinfo.get("/Title", ""))


@pytest.mark.django_db
class TestManyBills:
    def test_a_batch_gives_each_bill_its_own_pdf_with_only_its_pages(self):
        english = issued_bill()
        spanish = issued_bill()
        Bill.objects.filter(pk=spanish.pk).update(language="es")
        spanish.refresh_from_db()
        (_, one), (_, two) = presentment.documents([english, spanish], scan_line=build_scan_line)
        long = copy.deepcopy(one)
        long["bill_number"] = "B-LONG"
        long["segments"][0]["lines"] *= 40  # a bill that runs over a page

        pdfs = presentment.render_pdfs([one, long, two], batch=2)

        long_pages, _ = pages_and_title(presentment.render_pdf(long))
        assert long_pages > 1
        assert [pages_and_title(pdf) for pdf in pdfs] == [
            (1, f"Bill {english.number}"),
            (long_pages, "Bill B-LONG"),
            (1, f"Factura {spanish.number}"),
        ]
        assert all(pdf.startswith(b"%PDF-") for pdf in pdfs)

    def test_one_bill_is_one_tagged_pdf(self):
        bill = issued_bill()
        ((_, data),) = presentment.documents([bill], scan_line=build_scan_line)

        with pikepdf.open(io.BytesIO(presentment.render_pdf(data))) as doc:
            assert len(doc.pages) == 1
            assert "/StructTreeRoot" in doc.Root

    def test_a_batch_whose_pages_do_not_match_its_bills_is_an_error(self):
        bill = issued_bill()
        ((_, data),) = presentment.documents([bill], scan_line=build_scan_line)
        whole = presentment.render_pdf({"bills": [data, data]}, tagged=False)

        assert len(presentment.split_bills(whole, titles=["a", "b"])) == 2
        with pytest.raises(RuntimeError, match="2 bills"):
            presentment.split_bills(whole, titles=["a"])

    def test_no_bills_no_pdfs(self):
        assert presentment.render_pdfs([]) == []


@pytest.mark.django_db
class TestDelivery:
    def test_paperless_gets_an_email_and_the_rest_a_print_file(self, tmp_path):
        # pytest-django sends mail to the in-memory outbox.
        paper = issued_bill()
        paperless = issued_bill()
        Bill.objects.filter(pk=paperless.pk).update(delivery=Bill.Delivery.EMAIL)
        at = datetime(2026, 4, 2, 20, 0, tzinfo=UTC)

        done = presentment.deliver_bills(
            [paper, paperless], scan_line=build_scan_line, out_dir=tmp_path, at=at, actor=ACTOR
        )

        assert (done.emailed, done.printed) == (1, 1)
        assert mail.outbox[0].attachments[0][0] == f"bill-{paperless.number}.pdf"
        assert done.print_file.read_bytes().startswith(b"%PDF-")
        manifest = done.manifest.read_text().splitlines()
        assert manifest[1].split(",")[1] == paper.number
        assert manifest[-1].startswith("sha256,")
        again = presentment.deliver_bills(
            [paper, paperless], scan_line=build_scan_line, out_dir=tmp_path, at=at, actor=ACTOR
        )
        assert (again.emailed, again.printed) == (0, 0)


@pytest.mark.django_db
class TestRebillDocument:
    def test_a_rebill_shows_what_changed(self, supervisor):
        acct = served_with_rate()
        channel = delivered_channel(acct)
        store_local_days(channel, date(2026, 3, 1), date(2026, 4, 1), kwh=2.0)
        (bill,) = operations.bill_accounts(
            account_ids=[acct.pk], dates=APRIL, at=AT, actor=ACTOR
        ).bills
        store_local_days(channel, date(2026, 3, 1), date(2026, 4, 1), kwh=1.0)
        later = datetime(2026, 4, 6, 17, 0, tzinfo=UTC)
        new = operations.rebill(bill=bill, actor=supervisor, at=later, reason="Reads corrected")

        ((_, data),) = presentment.documents(
            [Bill.objects.select_related("account").get(pk=new.pk)], scan_line=build_scan_line
        )

        changed = {row["description"]: row["change"] for row in data["changes"]}
        assert changed["Energy, period 1, tier 1"] == "-$73.40"
        assert any("replaces bill" in message for message in data["messages"])

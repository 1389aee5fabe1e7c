"""Keeping the search index in step with the records.

Every audited write announces itself (``ohm.core.audit.domain_event``); the index updates the
accounts it touches in the same transaction. Bulk loads call ``rebuild_index``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from ohm.agreements.models import ServiceAgreement
from ohm.core.bulk import insert_rows
from ohm.customers.models import Account, AccountPerson, Person
from ohm.metering.models import Meter, MeterInstallation
from ohm.premises.models import Premise, ServicePoint
from ohm.search import normalize
from ohm.search.models import SearchDocument, SearchToken

_RANK: dict[str, int] = {
    Account.Status.ACTIVE: 0,
    Account.Status.PENDING: 1,
    Account.Status.FINAL: 1,
    Account.Status.CLOSED: 2,
}
_OPEN_SA = ["pending_start", "active", "pending_stop"]


def accounts_touched(subject, account_id: int | None) -> set[int]:
    if account_id is not None:
        return {account_id}
    if isinstance(subject, Account):
        return {subject.pk}
    if isinstance(subject, Person):
        return set(
            AccountPerson.objects.filter(person=subject).values_list("account_id", flat=True)
        )
    if isinstance(subject, Premise):
        return set(
            ServiceAgreement.objects.filter(service_point__premise=subject).values_list(
                "account_id", flat=True
            )
        )
    if isinstance(subject, ServicePoint):
        return set(
            ServiceAgreement.objects.filter(service_point=subject).values_list(
                "account_id", flat=True
            )
        )
    if isinstance(subject, Meter):
        points = MeterInstallation.objects.filter(meter=subject).values_list(
            "service_point_id", flat=True
        )
        return set(
            ServiceAgreement.objects.filter(service_point_id__in=points).values_list(
                "account_id", flat=True
            )
        )
    return set()


def on_domain_event(sender, *, event: str, subject, account_id: int | None, **kwargs) -> None:
    if event.split(".", 1)[0] not in {"customers", "premises", "metering", "agreements"}:
        return
    ids = accounts_touched(subject, account_id)
    if ids:
        reindex_accounts(ids)


@transaction.atomic
def reindex_accounts(account_ids: Iterable[int]) -> int:
    """Rebuild the documents and tokens of these accounts. Returns how many were indexed."""
    ids = sorted(set(account_ids))
    docs, tokens = _build(ids)
    SearchDocument.objects.filter(account_id__in=ids).delete()
    SearchDocument.objects.bulk_create(docs, batch_size=2000)
    by_account = {d.account_id: d.pk for d in docs}
    insert_rows(
        SearchToken._meta.db_table,
        ["document_id", "token"],
        ((by_account[account_id], t) for account_id, ts in tokens.items() for t in ts),
    )
    return len(docs)


def rebuild_index(*, chunk_size: int = 5000, progress=None) -> int:
    """Re-index every account in chunks, each chunk its own transaction."""
    all_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    done = 0
    for start in range(0, len(all_ids), chunk_size):
        done += reindex_accounts(all_ids[start : start + chunk_size])
        if progress:
            progress(done, len(all_ids))
    return done


def _build(ids: list[int]) -> tuple[list[SearchDocument], dict[int, set[str]]]:
    accounts = Account.objects.in_bulk(ids)
    links = (
        AccountPerson.objects.filter(account_id__in=ids)
        .select_related("person")
        .prefetch_related("person__phones", "person__emails")
        .order_by("account_id", "role", "id")
    )
    persons: dict[int, list[tuple[AccountPerson, Person]]] = defaultdict(list)
    for link in links:
        persons[link.account_id].append((link, link.person))
    agreements = (
        ServiceAgreement.objects.filter(account_id__in=ids)
        .select_related("service_point__premise")
        .order_by("account_id", "-start_date")
    )
    points: dict[int, list[ServicePoint]] = defaultdict(list)
    open_points: dict[int, list[ServicePoint]] = defaultdict(list)
    for sa in agreements:
        points[sa.account_id].append(sa.service_point)
        if sa.status in _OPEN_SA:
            open_points[sa.account_id].append(sa.service_point)
    point_ids = {p.pk for ps in points.values() for p in ps}
    meters: dict[int, list[str]] = defaultdict(list)
    for inst in (
        MeterInstallation.objects.filter(service_point_id__in=point_ids)
        .filter(Q(removed_at__isnull=True))
        .select_related("meter")
    ):
        meters[inst.service_point_id].append(inst.meter.serial)

    docs: list[SearchDocument] = []
    tokens: dict[int, set[str]] = {}
    for account_id in ids:
        account = accounts.get(account_id)
        if account is None:
            continue
        words: set[str] = {account.number}
        people = persons.get(account_id, [])
        main = next(
            (
                p
                for link, p in people
                if link.role == AccountPerson.Role.MAIN and link.end_date is None
            ),
            people[0][1] if people else None,
        )
        phone = email = ""
        for _link, person in people:
            words.update(normalize.word_tokens(person.display_name))
            # Typed names go through the address abbreviations too ("Kevin West" is asked
            # for as "kevin w"), so index the abbreviated forms as well.
            words.update(normalize.address_tokens(person.display_name))
            for ph in person.phones.all():
                words.update(normalize.phone_tokens(ph.number))
                if person is main and (ph.is_primary or not phone):
                    phone = ph.number
            for em in person.emails.all():
                words.update(normalize.email_tokens(em.address))
                if person is main and (em.is_primary or not email):
                    email = em.address
        words.update(normalize.address_tokens(account.address_line1))
        service_points = points.get(account_id, [])
        serials: list[str] = []
        for point in service_points:
            premise = point.premise
            words.update(normalize.address_tokens(premise.address_line1))
            if premise.unit:
                words.update(normalize.word_tokens(premise.unit))
            words.update({premise.number.lower(), point.number.lower()})
            for serial in meters.get(point.pk, []):
                serials.append(serial)
                words.update(normalize.word_tokens(serial))
        candidates = open_points.get(account_id) or service_points
        shown = candidates[0] if candidates else None
        docs.append(
            SearchDocument(
                account_id=account_id,
                account_number=account.number,
                display_name=(main.display_name if main else "")[:200],
                service_address=shown.premise.one_line[:200]
                if shown
                else ", ".join(account.mailing_lines)[:200],
                phone=phone,
                email=email,
                meter_serials=" ".join(serials)[:200],
                status=account.status,
                rank=_RANK.get(account.status, 1),
            )
        )
        tokens[account_id] = {w[:64] for w in words if w}
    return docs, tokens

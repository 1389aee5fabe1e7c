"""Account search latency (p50/p95/p99) on realistic queries, checked against a slow reference.

    ohm bench search [--accounts 100000] [--queries 2000] [--seed 1] [--check 200]

Runs on the database that DATABASE_URL names. When it has no accounts, the demo utility is
built into it first (this writes into that database); when it has some accounts but fewer
than asked for, the benchmark refuses rather than mix data.

Queries are drawn from the indexed data the way CSRs type them: full and last names,
partial names, street addresses ("123 lagoon"), account numbers with and without dashes,
phone numbers in several formats, last four of a phone, emails, meter serials, and misses.
Each is timed with ``time.perf_counter`` around ``search_accounts`` after a warm-up. A
sample is then checked against a reference that scans every account's tokens in Python.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import defaultdict
from datetime import date

from django.conf import settings
from django.db import connection

from ohm.customers.models import Account
from ohm.search.models import SearchDocument, SearchToken
from ohm.search.normalize import query_terms
from ohm.search.queries import MIN_PREFIX, search_accounts

LIMIT = 20
WARM_UP = 100

#: (kind, weight): how often each kind of query appears in the mix.
MIX = [
    ("full_name", 15),
    ("last_name", 12),
    ("first_and_partial_last", 8),
    ("partial_name", 8),
    ("street", 12),
    ("street_full", 5),
    ("account", 8),
    ("account_dashed", 5),
    ("phone", 10),
    ("phone_last4", 4),
    ("email", 5),
    ("meter", 5),
    ("miss", 3),
]
_MISSES = [
    "zzyzx",
    "Quixotic Xylophone",
    "9999 nowhere st",
    "qwfp",
    "0000000000",
    "nobody@nowhere.example",
    "XJ99999999",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ohm bench search", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts",
        type=int,
        default=100_000,
        help="Accounts the database must hold (default 100000).",
    )
    parser.add_argument("--queries", type=int, default=2_000, help="Timed queries (default 2000).")
    parser.add_argument(
        "--seed", type=int, default=1, help="Seed for the demo build and the query mix (default 1)."
    )
    parser.add_argument(
        "--check",
        type=int,
        default=200,
        help="Queries checked against the reference (default 200).",
    )
    return parser


def _database() -> str:
    return "postgresql" if connection.vendor == "postgresql" else connection.vendor


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _format_account(number: str) -> str:
    return f"{number[:4]}-{number[4:9]}-{number[9:]}"


def _phone_variants(e164: str, rng: random.Random) -> str:
    digits = e164[-10:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return rng.choice(
        (
            f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}",
            digits,
            f"+1 {area} {exchange} {line}",
            f"{area}.{exchange}.{line}",
            f"{exchange}-{line}",
        )
    )


def make_queries(
    documents: list[SearchDocument], count: int, rng: random.Random
) -> list[tuple[str, str, int | None]]:
    """``count`` queries as (kind, text, account id it came from or None)."""
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    queries: list[tuple[str, str, int | None]] = []
    while len(queries) < count:
        kind = rng.choices(kinds, weights)[0]
        doc = rng.choice(documents)
        words = doc.display_name.split()
        street = doc.service_address.split(",")[0].split()
        text = ""
        if kind == "full_name":
            text = doc.display_name
        elif kind == "last_name" and len(words) >= 2:
            text = words[-1]
        elif kind == "first_and_partial_last" and len(words) >= 2 and len(words[-1]) >= 3:
            text = f"{words[0]} {words[-1][: rng.randint(2, len(words[-1]))]}"
        elif kind == "partial_name" and words and len(words[0]) >= 3:
            word = rng.choice(words)
            text = word[: rng.randint(min(3, len(word)), len(word))]
        elif kind == "street" and len(street) >= 2 and street[0].isdigit():
            text = f"{street[0]} {street[1].lower()}"
        elif kind == "street_full" and street:
            text = " ".join(street)
        elif kind == "account":
            text = doc.account_number
        elif kind == "account_dashed":
            text = _format_account(doc.account_number)
        elif kind == "phone" and doc.phone:
            text = _phone_variants(doc.phone, rng)
        elif kind == "phone_last4" and doc.phone:
            text = doc.phone[-4:]
        elif kind == "email" and doc.email:
            text = doc.email if rng.random() < 0.7 else doc.email.split("@")[0]
        elif kind == "meter" and doc.meter_serials:
            serial = rng.choice(doc.meter_serials.split())
            text = serial if rng.random() < 0.7 else serial.lower()
        elif kind == "miss":
            queries.append((kind, rng.choice(_MISSES), None))
            continue
        if text.strip():
            queries.append((kind, text, doc.account_id))
    return queries


class Reference:
    """Obviously correct and slow: every account's tokens in one string, scanned per query."""

    def __init__(self):
        tokens: dict[int, list[str]] = defaultdict(list)
        for document_id, token in SearchToken.objects.values_list("document_id", "token").iterator(
            chunk_size=20_000
        ):
            tokens[document_id].append(token)
        self.documents = {
            d.pk: d
            for d in SearchDocument.objects.only(
                "pk", "account_id", "rank", "display_name", "account_number"
            )
        }
        # " tok1 tok2 ... tokN ": a prefix of a token follows a space; a whole token has one after.
        self.haystacks = [(doc_id, " " + " ".join(ts) + " ") for doc_id, ts in tokens.items()]

    def matches(self, query: str) -> set[int]:
        """Account ids of the documents whose tokens match every term of ``query``."""
        terms = query_terms(query)
        if not terms or (len(terms) == 1 and len(terms[0]) < MIN_PREFIX):
            return set()
        needles = [f" {t} " if len(t) < MIN_PREFIX else f" {t}" for t in set(terms)]
        return {
            self.documents[doc_id].account_id
            for doc_id, hay in self.haystacks
            if all(n in hay for n in needles)
        }

    def check(self, query: str, found: list[SearchDocument]) -> str:
        """Empty when ``found`` (a limited, ordered result) agrees with the reference."""
        expected = self.matches(query)
        got = [d.account_id for d in found]
        if len(set(got)) != len(got):
            return "duplicate accounts in the result"
        if not set(got) <= expected:
            return f"{len(set(got) - expected)} accounts that do not match every term"
        if len(got) != min(LIMIT, len(expected)):
            return f"{len(got)} results where {min(LIMIT, len(expected))} were expected ({len(expected)} match)"
        ranks = [d.rank for d in found]
        if ranks != sorted(ranks):
            return "results not ordered by rank (active accounts first)"
        left_out = expected - set(got)
        if left_out and ranks:
            by_account = {
                d.account_id: d.rank for d in self.documents.values() if d.account_id in left_out
            }
            if min(by_account.values()) < max(ranks):
                return "an active account was left out for a less active one"
        return ""


def ensure_data(requested: int, seed: int, out, err) -> int:
    """The number of accounts to benchmark on, building the demo into an empty database."""
    existing = Account.objects.count()
    if existing >= requested:
        return existing
    if existing:
        err.write(
            f"The database has {existing:,} accounts, fewer than the {requested:,} asked for. Run on an empty "
            f"database (it will be filled with the demo) or ask for --accounts {existing}.\n"
        )
        return -1
    from ohm.batch.demo import build_demo_utility
    from ohm.batch.progress import ProgressBar

    err.write(
        f"The database has no accounts: building a {requested:,}-account demo utility INTO IT ({settings.DATABASES['default']['NAME']}).\n"
    )
    summary = build_demo_utility(
        accounts=requested,
        seed=seed,
        as_of=date.today(),
        progress=ProgressBar(getattr(err, "_out", err)),
    )
    out.write(
        f"Demo built: {summary.accounts:,} accounts in {summary.seconds:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in summary.stage_seconds.items())}).\n"
    )
    return Account.objects.count()


def main(argv: list[str] | None = None, *, stdout=None, stderr=None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = _parser().parse_args(argv)
    if options.accounts < 1 or options.queries < 1:
        err.write("--accounts and --queries must be at least 1.\n")
        return 2
    accounts = ensure_data(options.accounts, options.seed, out, err)
    if accounts < 0:
        return 2

    rng = random.Random(options.seed)
    documents = list(
        SearchDocument.objects.only(
            "account_id",
            "account_number",
            "display_name",
            "service_address",
            "phone",
            "email",
            "meter_serials",
        )
    )
    queries = make_queries(documents, options.queries, rng)
    for _, text, _ in queries[:WARM_UP]:
        search_accounts(text)

    timings: list[float] = []
    results: list[list[SearchDocument]] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, text, _ in queries:
        started = time.perf_counter()
        found = search_accounts(text)
        elapsed = (time.perf_counter() - started) * 1000
        timings.append(elapsed)
        by_kind[kind].append(elapsed)
        results.append(found)

    reference = Reference()
    sample = rng.sample(range(len(queries)), min(options.check, len(queries)))
    mismatches = 0
    source_missed = 0
    for index in sample:
        kind, text, account_id = queries[index]
        problem = reference.check(text, results[index])
        if problem:
            mismatches += 1
            if mismatches <= 20:
                out.write(f"MISMATCH [{kind}] {text!r}: {problem}\n")
        if account_id is not None and account_id not in reference.matches(text):
            source_missed += 1
            if source_missed <= 5:
                out.write(
                    f"note: [{kind}] {text!r} did not find account id {account_id}, which it was drawn from\n"
                )

    ordered = sorted(timings)
    out.write(f"{'kind':<24}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}\n")
    for kind, values in sorted(by_kind.items()):
        values.sort()
        out.write(
            f"{kind:<24}{len(values):>6}{_percentile(values, 0.5):>10.2f}{_percentile(values, 0.99):>10.2f}{values[-1]:>10.2f}\n"
        )
    out.write(
        f"Checked {len(sample)} queries against the reference: {mismatches} mismatches; {source_missed} did not find the account they were drawn from.\n"
    )
    figures = {
        "bench": "search",
        "database": _database(),
        "accounts": accounts,
        "queries": len(queries),
        "p50_ms": round(_percentile(ordered, 0.50), 3),
        "p95_ms": round(_percentile(ordered, 0.95), 3),
        "p99_ms": round(_percentile(ordered, 0.99), 3),
        "max_ms": round(ordered[-1], 3),
        "reference_mismatches": mismatches,
    }
    out.write(json.dumps(figures) + "\n")
    return 1 if mismatches else 0

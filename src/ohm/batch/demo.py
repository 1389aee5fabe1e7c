"""The demo utility: Port Marisol Municipal Power, a synthetic island city of customers.

``build_demo_utility`` plans every row in memory from one ``random.Random(seed)`` and the
given ``as_of`` date (nothing reads the clock or any other source of randomness, so a seed
always gives the same city), then writes the rows with ``bulk_create`` in one transaction
and rebuilds the search index. Per-row operations would record ~500,000 audit events and
take an hour; the load records one ``batch.demo.loaded`` event instead.

Rows are built to satisfy the models' validators and the database constraints: one
current main person per account, one open agreement per service point, one active read
sequence per route position, one meter per service point.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.db.models.base import ModelState
from faker.providers.person.en_IN import Provider as IndianNames
from faker.providers.person.en_US import Provider as AmericanNames
from faker.providers.person.es_MX import Provider as MexicanNames
from faker.providers.person.zh_CN import Provider as ChineseNames

from ohm.agreements.models import ServiceAgreement
from ohm.batch.demo_rates import ensure_demo_rate_versions
from ohm.core import audit, identifiers
from ohm.core.audit import SystemActor
from ohm.core.bulk import insert_instances
from ohm.core.localtime import localdate, start_of_day
from ohm.core.permissions import ROLE_BY_SLUG, ensure_roles, role_group
from ohm.customers.models import (
    Account,
    AccountAlert,
    AccountPerson,
    Email,
    Interaction,
    InteractionReason,
    Person,
    Phone,
)
from ohm.metering.models import Meter, MeterChannel, MeterInstallation
from ohm.premises.addresses import address_key
from ohm.premises.models import Premise, ServicePoint
from ohm.rates.models import RateSchedule
from ohm.search.indexing import rebuild_index
from ohm.search.normalize import fold
from ohm.workqueue.models import WorkCategory, WorkItem
from ohm.workqueue.operations import add_business_days

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Progress = Callable[[str, int, int], None]

CITY = "Port Marisol"
STATE = "CA"
DEMO_PASSWORD = "ohm-demo-2026"

#: One demo login per role: (role slug, username).
DEMO_STAFF: list[tuple[str, str]] = [
    ("csr", "csr"),
    ("lead_csr", "lead"),
    ("supervisor", "supervisor"),
    ("cashier", "cashier"),
    ("billing_analyst", "analyst"),
    ("collections", "collections"),
    ("field_technician", "field"),
    ("investigator", "investigator"),
    ("administrator", "admin"),
]

#: The demo tariffs (code, name, customer class, description). The rates issue adds prices.
DEMO_RATES: list[tuple[str, str, str, str]] = [
    (
        "E-1",
        "Residential baseline tiered",
        "residential",
        "Two tiers: energy within the baseline allowance for the territory and season, then above it.",
    ),
    (
        "E-TOU",
        "Residential time-of-use",
        "residential",
        "Peak 4–9 pm every day; off-peak all other hours. Needs an interval (AMI) meter.",
    ),
    (
        "EV-TOU",
        "Residential EV time-of-use",
        "residential",
        "Low super-off-peak price midnight–6 am for charging electric vehicles.",
    ),
    ("A-1", "Small commercial", "small_commercial", "Businesses below 200 kW demand."),
    (
        "A-10",
        "Large commercial with demand",
        "large_commercial",
        "Energy plus a monthly maximum-demand charge (kW, 15-minute).",
    ),
    (
        "NEM",
        "Net energy metering (residential)",
        "residential",
        "Customer generation (solar): billed on energy delivered less energy received.",
    ),
]

ROUTES = 40


@dataclass
class DemoSummary:
    accounts: int
    persons: int
    premises: int
    service_points: int
    meters: int
    agreements: int
    alerts: int
    interactions: int
    work_items: int
    by_class: dict[str, int]
    by_status: dict[str, int]
    staff_created: list[str]
    seed: int
    as_of: date
    seconds: float = 0.0
    digest: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)


class DemoDatabaseNotEmpty(Exception):
    """The database already has accounts: the demo loads only into an empty one."""


# ---------------------------------------------------------------------------------------
# Staff and rates: small, idempotent
# ---------------------------------------------------------------------------------------


def ensure_staff_users() -> list[str]:
    """Create the missing demo staff (one per role, password ``DEMO_PASSWORD``).

    Returns the usernames created. The admin is also staff and superuser for /admin/.
    """
    ensure_roles()
    users = get_user_model()
    existing = set(
        users.objects.filter(username__in=[u for _, u in DEMO_STAFF]).values_list(
            "username", flat=True
        )
    )
    missing = [(slug, name) for slug, name in DEMO_STAFF if name not in existing]
    if not missing:
        return []
    # One hash for all: hashing is deliberately slow, and these are demo logins.
    password = make_password(DEMO_PASSWORD)
    for slug, name in missing:
        role = ROLE_BY_SLUG[slug]
        is_admin = slug == "administrator"
        user = users(
            username=name,
            first_name=role.name,
            last_name="(demo)",
            email=f"{name}@portmarisol.example.org",
            is_staff=is_admin,
            is_superuser=is_admin,
            password=password,
        )
        user.save()
        user.groups.add(role_group(slug))
    return [name for _, name in missing]


def ensure_demo_rates() -> dict[str, RateSchedule]:
    rates = {}
    for code, name, customer_class, description in DEMO_RATES:
        rates[code], _ = RateSchedule.objects.get_or_create(
            code=code,
            defaults={"name": name, "customer_class": customer_class, "description": description},
        )
    return rates


# ---------------------------------------------------------------------------------------
# The city: streets, names, businesses
# ---------------------------------------------------------------------------------------

_STREET_NAMES = [
    "Lagoon",
    "Marisol",
    "Harbor",
    "Bayview",
    "Seabreeze",
    "Pelican",
    "Heron",
    "Sandpiper",
    "Tidewater",
    "Driftwood",
    "Coral",
    "Anchor",
    "Lighthouse",
    "Mariner",
    "Clipper",
    "Schooner",
    "Compass",
    "Beacon",
    "Jetty",
    "Shoreline",
    "Dune",
    "Cove",
    "Egret",
    "Plover",
    "Gull",
    "Tern",
    "Cormorant",
    "Otter",
    "Abalone",
    "Sturgeon",
    "Cypress",
    "Oak",
    "Willow",
    "Acacia",
    "Magnolia",
    "Laurel",
    "Eucalyptus",
    "Sycamore",
    "Walnut",
    "Chestnut",
    "Alder",
    "Juniper",
    "Madrone",
    "Redwood",
    "Palm",
    "Pine",
    "Elm",
    "Maple",
    "Lincoln",
    "Grant",
    "Santa Clara",
    "Encinal",
    "Portola",
    "Cabrillo",
    "Serra",
    "Anza",
    "Mission",
    "Alvarado",
    "Vallejo",
    "Castro",
    "Peralta",
    "Estudillo",
    "Sutter",
    "Fremont",
    "Bancroft",
    "Morton",
    "Chapin",
    "Everett",
    "Benton",
    "Caroline",
    "Eagle",
    "Buena Vista",
    "Pacific",
    "Atlantic",
    "Clement",
    "Versailles",
    "Fairview",
    "Grand",
    "Paru",
    "Regent",
    "Union",
    "Burbank",
    "Foley",
    "Hibbard",
    "Lafayette",
    "Stanton",
    "Taylor",
    "Bay Farm",
    "Island",
    "Ferry",
    "Sea Lion",
    "Kittiwake",
    "Mallard",
    "Avocet",
    "Curlew",
    "Osprey",
    "Kingfisher",
    "Starling",
    "Larkspur",
    "Poppy",
    "Lupine",
    "Manzanita",
    "Toyon",
    "Buckeye",
    "Sage",
    "Yarrow",
    "Verbena",
    "Camellia",
    "Azalea",
    "Jasmine",
    "Orchard",
    "Garden",
    "Meadow",
    "Sunset",
    "Sunrise",
    "Tradewinds",
    "Monarch",
    "Capella",
    "Vega",
    "Polaris",
    "Orion",
    "Lyra",
    "Nautilus",
    "Catalina",
    "Monterey",
    "Carmel",
    "Sonoma",
    "Napa",
    "Tahoe",
    "Shasta",
    "Sierra",
    "Mendocino",
    "Marin",
    "Tiburon",
    "Belvedere",
    "Sausalito",
    "Lido",
    "Marina",
    "Esplanade",
    "Promenade",
    "Fir",
    "Spruce",
    "Hemlock",
    "Cedar",
    "Holly",
]
_SUFFIXES = ["St", "St", "St", "Ave", "Ave", "Dr", "Ln", "Ct", "Way", "Pl", "Rd", "Ter", "Cir"]
#: Commercial corridors: where the shops, offices and plants are.
_CORRIDORS = [
    "Marisol Ave",
    "Harbor Blvd",
    "Central Ave",
    "Park St",
    "Webster St",
    "Industrial Way",
    "Ferry Point Rd",
    "Encinal Ave",
]
_ELSEWHERE = [  # out-of-town mailing addresses: (city, ZIP)
    ("Oakland", "94610"),
    ("San Leandro", "94577"),
    ("Hayward", "94541"),
    ("Fremont", "94538"),
    ("Sacramento", "95818"),
    ("San Jose", "95126"),
    ("Walnut Creek", "94596"),
    ("Reno", "89501"),
]

_VIETNAMESE_FIRST = {
    "F": [
        "Lan",
        "Mai",
        "Hoa",
        "Linh",
        "Thu",
        "Trang",
        "Ngoc",
        "Huong",
        "Phuong",
        "Thao",
        "Anh",
        "Hanh",
        "Kim",
        "My",
        "Tuyet",
        "Van",
        "Diep",
        "Nhung",
    ],
    "M": [
        "Minh",
        "Tuan",
        "Hung",
        "Duc",
        "Long",
        "Quang",
        "Thanh",
        "Huy",
        "Khoa",
        "Nam",
        "Bao",
        "Phuc",
        "Vinh",
        "Son",
        "Dung",
        "Hieu",
        "Trung",
        "Khanh",
    ],
}
_VIETNAMESE_LAST = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Huỳnh",
    "Hoàng",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Trương",
    "Đinh",
    "Lâm",
    "Tạ",
]
_FILIPINO_FIRST = {
    "F": [
        "Maria",
        "Angelica",
        "Rowena",
        "Marites",
        "Jocelyn",
        "Maricel",
        "Rosario",
        "Lorna",
        "Cristina",
        "Analyn",
        "Divina",
        "Imelda",
        "Liza",
        "Rhea",
        "Kristine",
        "Jasmine",
        "Teresita",
        "Evangeline",
    ],
    "M": [
        "Jose",
        "Mark",
        "Jerome",
        "Arnel",
        "Romeo",
        "Rodrigo",
        "Ramon",
        "Ernesto",
        "Danilo",
        "Joel",
        "Rommel",
        "Jericho",
        "Paolo",
        "Bayani",
        "Efren",
        "Renato",
        "Carlo",
        "Jun",
    ],
}
_FILIPINO_LAST = [
    "Santos",
    "Reyes",
    "Cruz",
    "Bautista",
    "Dela Cruz",
    "Garcia",
    "Mendoza",
    "Ramos",
    "Aquino",
    "Villanueva",
    "Castillo",
    "Fernandez",
    "Gonzales",
    "Del Rosario",
    "Manalo",
    "Pascual",
    "Soriano",
    "Tolentino",
    "Macaraeg",
    "Dimaculangan",
    "Lacson",
    "Magsaysay",
]
_KOREAN_FIRST = {
    "F": ["Ji-yeon", "Min-ji", "Seo-yeon", "Eun-ji", "Hye-jin", "Soo-ah", "Ha-eun", "Yuna"],
    "M": ["Min-jun", "Ji-hoon", "Dong-hyun", "Sung-min", "Jae-won", "Hyun-woo", "Tae-yang", "Joon"],
}
_KOREAN_LAST = [
    "Kim",
    "Lee",
    "Park",
    "Choi",
    "Jung",
    "Kang",
    "Cho",
    "Yoon",
    "Jang",
    "Lim",
    "Han",
    "Shin",
]

_TRADES_SMALL = [
    "Cafe",
    "Bakery",
    "Auto Repair",
    "Dental",
    "Hardware",
    "Market",
    "Laundromat",
    "Taqueria",
    "Pho",
    "Nail Salon",
    "Yoga Studio",
    "Insurance Agency",
    "Pharmacy",
    "Realty",
    "Barbershop",
    "Florist",
    "Bike Shop",
    "Bookstore",
    "Pet Grooming",
    "Tailor",
    "Dry Cleaners",
    "Pizza",
    "Sushi Bar",
    "Coffee Roasters",
    "Chiropractic",
    "Tax Services",
    "Hair Studio",
    "Liquor & Deli",
    "Donuts",
    "Martial Arts",
    "Veterinary Clinic",
    "Boba Tea",
    "Thai Kitchen",
    "Print & Copy",
    "Optometry",
]
_BUSINESS_PLACES = [
    "Island",
    "Harbor",
    "Bayside",
    "Marisol",
    "Lagoon",
    "Pacific",
    "Seaside",
    "Anchor",
    "Lighthouse",
    "Bay Farm",
    "Tidewater",
    "Pelican",
    "Golden Shore",
    "Ferry Point",
]
_TRADES_LARGE = [
    ("Cold Storage", "industrial"),
    ("Marine Terminal", "industrial"),
    ("Medical Center", "commercial"),
    ("Shopping Center", "commercial"),
    ("Hotel & Suites", "commercial"),
    ("Supermarket", "commercial"),
    ("Brewing Co.", "industrial"),
    ("Data Center", "industrial"),
    ("Boatworks", "industrial"),
    ("Business Park", "commercial"),
    ("Senior Living", "commercial"),
    ("Fitness Club", "commercial"),
    ("Cinema", "commercial"),
    ("Distribution Center", "industrial"),
    ("Bottling Plant", "industrial"),
]
_LEGAL_FORMS = ["LLC", "Inc.", "", "", "Co.", "Corp."]
_LANDLORD_FIRMS = [
    "Property Management",
    "Rentals",
    "Apartments",
    "Realty Group",
    "Housing Partners",
]


def _keys(values) -> list[str]:
    return list(values.keys()) if hasattr(values, "keys") else list(values)


class _Names:
    """Name pools by origin, so first and last names (and language) go together."""

    #: (origin, weight, language, share who prefer that language)
    ORIGINS = [
        ("us", 50, "en", 0.0),
        ("mx", 21, "es", 0.45),
        ("zh", 12, "zh", 0.4),
        ("tl", 7, "tl", 0.2),
        ("vi", 5, "vi", 0.45),
        ("in", 3, "en", 0.0),
        ("ko", 2, "ko", 0.3),
    ]

    def __init__(self):
        us_last = AmericanNames.last_names
        self.pools: dict[str, tuple[dict[str, list[str]], list[str], list[float] | None]] = {
            "us": (
                {
                    "F": _keys(AmericanNames.first_names_female),
                    "M": _keys(AmericanNames.first_names_male),
                },
                _keys(us_last),
                [float(w) for w in us_last.values()] if hasattr(us_last, "values") else None,
            ),
            "mx": (
                {
                    "F": _keys(MexicanNames.first_names_female),
                    "M": _keys(MexicanNames.first_names_male),
                },
                _keys(MexicanNames.last_names),
                None,
            ),
            "zh": (
                {
                    "F": _keys(ChineseNames.first_romanized_names),
                    "M": _keys(ChineseNames.first_romanized_names),
                },
                _keys(ChineseNames.last_romanized_names),
                None,
            ),
            "vi": (_VIETNAMESE_FIRST, _VIETNAMESE_LAST, None),
            "tl": (_FILIPINO_FIRST, _FILIPINO_LAST, None),
            "in": (
                {
                    "F": _keys(IndianNames.first_names_female),
                    "M": _keys(IndianNames.first_names_male),
                },
                _keys(IndianNames.last_names),
                None,
            ),
            "ko": (_KOREAN_FIRST, _KOREAN_LAST, None),
        }
        self.american_first = self.pools["us"][0]
        self._origins = [o for o, *_ in self.ORIGINS]
        self._weights = [w for _, w, *_ in self.ORIGINS]
        self._language = {o: (lang, share) for o, _, lang, share in self.ORIGINS}

    def origin(self, rng: random.Random) -> str:
        return rng.choices(self._origins, self._weights)[0]

    def first(self, rng: random.Random, origin: str, sex: str) -> str:
        firsts = self.pools[origin][0]
        # Many Chinese- and Korean-American customers go by an English given name.
        if origin in ("zh", "ko") and rng.random() < 0.5:
            firsts = self.american_first
        return rng.choice(firsts[sex])

    def last(self, rng: random.Random, origin: str) -> str:
        _, lasts, weights = self.pools[origin]
        return rng.choices(lasts, weights)[0] if weights else rng.choice(lasts)

    def language(self, rng: random.Random, origin: str) -> str:
        lang, share = self._language[origin]
        return lang if rng.random() < share else "en"


# ---------------------------------------------------------------------------------------
# The plan: every row, in memory
# ---------------------------------------------------------------------------------------


@dataclass
class _Street:
    index: int
    name: str
    postal_code: str
    territory: str
    commercial: bool = False
    next_even: int = 100
    next_odd: int = 101

    def take_number(self, rng: random.Random) -> int:
        if rng.random() < 0.5:
            number, self.next_even = self.next_even, self.next_even + rng.choice((2, 2, 2, 4, 6))
        else:
            number, self.next_odd = self.next_odd, self.next_odd + rng.choice((2, 2, 2, 4, 6))
        return number


@dataclass
class _Site:
    """A premise with its one service point and meter, and who is (or was) served there."""

    customer_class: str  # residential / small_commercial / large_commercial
    premise: Premise
    street: _Street
    house_number: int
    point: ServicePoint | None = None
    meter: Meter | None = None
    status: str = Account.Status.ACTIVE  # of the current (or last) account: active, pending, final
    has_predecessor: bool = False
    landlord: Person | None = None

    @property
    def planned_point(self) -> ServicePoint:
        if self.point is None:
            raise RuntimeError(f"no service point planned yet at {self.premise}")
        return self.point

    @property
    def planned_meter(self) -> Meter:
        if self.meter is None:
            raise RuntimeError(f"no meter planned yet at {self.premise}")
        return self.meter


@dataclass
class _Plan:
    persons: list[Person] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    emails: list[Email] = field(default_factory=list)
    premises: list[Premise] = field(default_factory=list)
    points: list[ServicePoint] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)
    channels: list[MeterChannel] = field(default_factory=list)
    installations: list[MeterInstallation] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    account_classes: list[str] = field(default_factory=list)
    links: list[AccountPerson] = field(default_factory=list)
    agreements: list[ServiceAgreement] = field(default_factory=list)
    alerts: list[AccountAlert] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    work: list[tuple[str, str, Account, int]] = field(
        default_factory=list
    )  # category, title, account, days ago


def _ascii_word(text: str) -> str:
    """Letters and digits for an email address: "Đặng" -> "dang" (đ has no accent to strip)."""
    return "".join(ch for ch in fold(text).replace("đ", "d") if ch.isascii() and ch.isalnum())


@cache
def _row_shape(model_class) -> tuple[dict[str, object], dict[str, str]]:
    """A model's field defaults by attname, and its foreign keys' names to attnames."""
    defaults: dict[str, object] = {}
    relations: dict[str, str] = {}
    for f in model_class._meta.concrete_fields:
        defaults[f.attname] = f.get_default()
        if f.is_relation:
            relations[f.name] = f.attname
    return defaults, relations


def _quota(total: int, share: float, *, at_least: int = 0) -> int:
    return min(total, max(at_least, round(total * share)))


def _moment(day: date, rng: random.Random, *, first_hour: int = 8, last_hour: int = 17) -> datetime:
    """An instant during local business hours of ``day`` (aware, UTC)."""
    return start_of_day(day) + timedelta(
        hours=rng.randint(first_hour, last_hour - 1), minutes=rng.randint(0, 59)
    )


class _Planner:
    def __init__(
        self,
        *,
        seed: int,
        as_of: date,
        rates: dict[str, RateSchedule],
        reasons: dict[str, InteractionReason],
        staff: dict[str, User],
        first_ids: dict[type, int],
    ):
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.at = _moment(as_of, random.Random(seed ^ 0x5EED), first_hour=7, last_hour=8)
        self.rates = rates
        self.reasons = reasons
        self.staff = staff
        self.names = _Names()
        self.plan = _Plan()
        self.used_phones: set[str] = set()
        self.streets = self._streets()
        self.meter_serial = 0
        self.next_ids = dict(first_ids)

    def _new(self, model_class, /, **fields):
        """An unsaved row with its primary key set, so rows can refer to each other before
        anything is written. Built without ``Model.__init__`` (10× the cost, and the plan
        makes ~15 rows per account); every concrete field still gets its default."""
        pk = self.next_ids[model_class]
        self.next_ids[model_class] = pk + 1
        defaults, relations = _row_shape(model_class)
        values = dict(defaults)
        values[model_class._meta.pk.attname] = pk
        state = ModelState()
        for name, value in fields.items():
            attname = relations.get(name)
            if attname is None:
                values[name] = value
            else:
                values[attname] = value.pk if value is not None else None
                state.fields_cache[name] = value
        row = model_class.__new__(model_class)
        row.__dict__.update(values)
        row._state = state
        return row

    # -- geography -------------------------------------------------------------------

    def _streets(self) -> list[_Street]:
        # The map is the same for every seed: it is the city; the seed decides who lives where.
        layout = random.Random(94501)
        streets: list[_Street] = []
        corridor_stems = {c.rsplit(" ", 1)[0] for c in _CORRIDORS}
        names = [n for n in _STREET_NAMES if n not in corridor_stems]
        for index, stem in enumerate(names):
            suffix = layout.choice(_SUFFIXES)
            # West end (94501) and east end (94502); the hills are territory X, the
            # sheltered east shore territory S, the rest of the island T.
            zone = index / len(names)
            territory = "X" if 0.42 <= zone < 0.52 else ("S" if zone >= 0.95 else "T")
            streets.append(
                _Street(index, f"{stem} {suffix}", "94501" if zone < 0.55 else "94502", territory)
            )
        for offset, name in enumerate(_CORRIDORS):
            index = len(streets)
            streets.append(
                _Street(
                    index,
                    name,
                    "94501" if offset % 2 == 0 else "94502",
                    "T",
                    commercial=True,
                    next_even=1000,
                    next_odd=1001,
                )
            )
        return streets

    def _premise(
        self, street: _Street, number: int, unit: str, premise_type: str, *, electric_share: float
    ) -> Premise:
        rng = self.rng
        line1 = f"{number} {street.name}"
        latitude = Decimal("37.7500") + Decimal(street.index % 60) * Decimal("0.0005")
        longitude = (
            Decimal("-122.3000")
            + Decimal(number % 4000) * Decimal("0.00002")
            + Decimal(street.index // 60) * Decimal("0.0250")
        )
        return self._new(
            Premise,
            address_line1=line1,
            unit=unit,
            city=CITY,
            state=STATE,
            postal_code=street.postal_code,
            address_key=address_key(line1, CITY),
            premise_type=premise_type,
            baseline_territory=street.territory,
            heat_source=Premise.HeatSource.ELECTRIC
            if rng.random() < electric_share
            else Premise.HeatSource.GAS,
            latitude=latitude.quantize(Decimal("0.000001")),
            longitude=longitude.quantize(Decimal("0.000001")),
            created_at=self.at,
        )

    def sites(self, count: int) -> list[_Site]:
        rng = self.rng
        large = _quota(count, 0.02, at_least=1 if count >= 3 else 0)
        small = _quota(count - large, 0.10 / 0.98, at_least=1 if count >= 3 else 0)
        residential = count - large - small
        mobile = _quota(residential, 0.04, at_least=1 if residential >= 20 else 0)
        apartments = _quota(residential - mobile, 0.38)
        houses = residential - mobile - apartments
        homes = [s for s in self.streets if not s.commercial]
        corridors = [s for s in self.streets if s.commercial]
        sites: list[_Site] = []

        for _ in range(houses):
            street = rng.choice(homes)
            number = street.take_number(rng)
            sites.append(
                _Site(
                    "residential",
                    self._premise(
                        street, number, "", Premise.Type.SINGLE_FAMILY, electric_share=0.15
                    ),
                    street,
                    number,
                )
            )

        remaining = apartments
        while remaining > 0:
            size = min(remaining, rng.choice((2, 3, 4, 4, 6, 8, 8, 12, 16, 24, 36)))
            street = rng.choice(homes)
            number = street.take_number(rng)
            floors = 1 if size <= 4 else (2 if size <= 12 else 3)
            per_floor = -(-size // floors)
            landlord = self._landlord() if rng.random() < 0.6 else None
            electric = 0.25 if rng.random() < 0.3 else 0.05  # a newer all-electric building or not
            for k in range(size):
                unit = (
                    f"APT {k + 1}"
                    if floors == 1
                    else f"APT {k // per_floor + 1}{k % per_floor + 1:02d}"
                )
                site = _Site(
                    "residential",
                    self._premise(
                        street, number, unit, Premise.Type.MULTI_FAMILY, electric_share=electric
                    ),
                    street,
                    number,
                )
                site.landlord = landlord if landlord and rng.random() < 0.6 else None
                sites.append(site)
            remaining -= size

        remaining = mobile
        while remaining > 0:
            size = min(remaining, 120)
            street = rng.choice(homes)
            number = street.take_number(rng)
            sites.extend(
                _Site(
                    "residential",
                    self._premise(
                        street, number, f"SPC {k + 1}", Premise.Type.MOBILE_HOME, electric_share=0.6
                    ),
                    street,
                    number,
                )
                for k in range(size)
            )
            remaining -= size

        remaining = small
        while remaining > 0:
            street = rng.choice(corridors)
            number = street.take_number(rng)
            size = min(remaining, rng.choice((1, 1, 1, 2, 4, 6)))  # a shop, or suites in a strip
            for k in range(size):
                unit = f"STE {100 + k + 1}" if size > 1 else ""
                sites.append(
                    _Site(
                        "small_commercial",
                        self._premise(
                            street, number, unit, Premise.Type.COMMERCIAL, electric_share=0.3
                        ),
                        street,
                        number,
                    )
                )
            remaining -= size

        for _ in range(large):
            street = rng.choice(corridors)
            number = street.take_number(rng)
            sites.append(
                _Site(
                    "large_commercial",
                    self._premise(street, number, "", Premise.Type.COMMERCIAL, electric_share=0.2),
                    street,
                    number,
                )
            )
        return sites

    def routes(self, sites: list[_Site]) -> None:
        """Meter readers walk the streets in order: routes are runs of the sorted sites."""
        rng = self.rng
        ordered = sorted(
            sites,
            key=lambda s: (s.street.index, s.house_number % 2, s.house_number, s.premise.unit),
        )
        per_route = -(-len(ordered) // ROUTES)
        for position, site in enumerate(ordered):
            route = position // per_route + 1
            sequence = (position % per_route + 1) * 10  # gaps of 10 leave room for new services
            location = rng.choice(
                (
                    "Left side of house",
                    "Right side of house",
                    "Garage wall",
                    "Rear of house",
                    "Side yard",
                )
            )
            if site.premise.premise_type == Premise.Type.MULTI_FAMILY:
                location = "Meter room, ground floor"
            elif site.premise.premise_type == Premise.Type.COMMERCIAL:
                location = rng.choice(
                    ("Electrical room", "Rear of building", "Switchgear, north wall")
                )
            site.point = self._new(
                ServicePoint,
                premise=site.premise,
                route=f"R{route:02d}",
                read_sequence=sequence,
                meter_location=location,
            )
        self.plan.premises.extend(s.premise for s in sites)
        self.plan.points.extend(s.planned_point for s in sites)

    # -- meters ----------------------------------------------------------------------

    def meters(self, sites: list[_Site]) -> None:
        rng = self.rng
        plan = self.plan
        for site in sites:
            residential = site.customer_class == "residential"
            manual = residential and rng.random() < 0.031
            self.meter_serial += 1
            if manual:
                meter = self._new(
                    Meter,
                    serial=f"G{40_000_000 + self.meter_serial:08d}",
                    make="General Electric",
                    model="I-70-S",
                    kind=Meter.Kind.MANUAL,
                    form="2S",
                    dials=5,
                    multiplier=Decimal(1),
                    status=Meter.Status.INSTALLED,
                )
                specs: list[tuple[int, MeterChannel.Measure, int | None]] = [
                    (1, MeterChannel.Measure.KWH_DELIVERED, None)
                ]
                installed = date(rng.randint(1994, 2012), rng.randint(1, 12), rng.randint(1, 28))
            elif residential:
                make, model, prefix = rng.choice(
                    (
                        ("Itron", "Riva", "IT"),
                        ("Landis+Gyr", "Revelo", "LG"),
                        ("Aclara", "I-210+c", "AC"),
                    )
                )
                meter = self._new(
                    Meter,
                    serial=f"{prefix}{10_000_000 + self.meter_serial:08d}",
                    make=make,
                    model=model,
                    kind=Meter.Kind.AMI,
                    form="2S",
                    dials=5,
                    multiplier=Decimal(1),
                    status=Meter.Status.INSTALLED,
                )
                specs = [
                    (1, MeterChannel.Measure.KWH_DELIVERED, 60),
                    (2, MeterChannel.Measure.KWH_RECEIVED, 60),
                ]
                installed = date(2019, 3, 1) + timedelta(days=rng.randint(0, 640))
            else:
                large = site.customer_class == "large_commercial"
                meter = self._new(
                    Meter,
                    serial=f"LC{20_000_000 + self.meter_serial:08d}"
                    if large
                    else f"SC{20_000_000 + self.meter_serial:08d}",
                    make="Itron" if large else "Landis+Gyr",
                    model="CENTRON II" if large else "FOCUS AXR-SD",
                    kind=Meter.Kind.AMI,
                    form="9S" if large else rng.choice(("2S", "12S", "16S")),
                    dials=6,
                    multiplier=Decimal(rng.choice((40, 80, 120))) if large else Decimal(1),
                    status=Meter.Status.INSTALLED,
                )
                specs = [
                    (1, MeterChannel.Measure.KWH_DELIVERED, 15),
                    (2, MeterChannel.Measure.KWH_RECEIVED, 15),
                ]
                if large:
                    specs.append((3, MeterChannel.Measure.KW_DEMAND, 15))
                installed = date(2018, 9, 1) + timedelta(days=rng.randint(0, 500))
            if site.status == Account.Status.PENDING:  # new construction: meter set last month
                installed = self.as_of - timedelta(days=rng.randint(7, 40))
            installed = min(installed, self.as_of - timedelta(days=1))
            meter.purchased_date = installed - timedelta(days=rng.randint(30, 200))
            site.meter = meter
            plan.meters.append(meter)
            plan.channels.extend(
                self._new(MeterChannel, meter=meter, number=n, measure=m, interval_minutes=every)
                for n, m, every in specs
            )
            plan.installations.append(
                self._new(
                    MeterInstallation,
                    meter=meter,
                    service_point=site.point,
                    installed_at=_moment(installed, rng),
                    install_reading=rng.randint(0, 99_999) if manual else 0,
                )
            )

    # -- people ----------------------------------------------------------------------

    def _phone(self) -> str:
        rng = self.rng
        while True:
            exchange = rng.randint(200, 999)
            if exchange == 555 or exchange % 100 == 11:  # 555 is fiction's; N11 codes are services
                continue
            number = f"+1510{exchange}{rng.randint(0, 9999):04d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def _email(self, first: str, last: str) -> str:
        rng = self.rng
        f = _ascii_word(first) or "customer"
        last_clean = _ascii_word(last) or "home"
        local = rng.choice(
            (
                f"{f}.{last_clean}",
                f"{f}{last_clean}",
                f"{f[0]}{last_clean}",
                f"{f}_{last_clean}",
                f"{last_clean}.{f}",
            )
        )
        if rng.random() < 0.45:
            local += str(rng.randint(1, 99))
        return f"{local}@{rng.choice(('example.com', 'example.net', 'example.org', 'mail.example.com'))}"

    def _contacts(
        self, person: Person, *, email_share: float, first: str = "", last: str = ""
    ) -> None:
        rng = self.rng
        if rng.random() < 0.92:
            mobile = rng.random() < 0.8
            self.plan.phones.append(
                self._new(
                    Phone,
                    person=person,
                    number=self._phone(),
                    kind=Phone.Kind.MOBILE if mobile else Phone.Kind.HOME,
                    is_primary=True,
                    sms_consent=mobile and rng.random() < 0.4,
                )
            )
            if rng.random() < 0.2:
                self.plan.phones.append(
                    self._new(
                        Phone,
                        person=person,
                        number=self._phone(),
                        kind=rng.choice((Phone.Kind.HOME, Phone.Kind.WORK)),
                        is_primary=False,
                    )
                )
        if rng.random() < email_share:
            if person.kind == Person.Kind.BUSINESS:
                slug = _ascii_word(person.business_name)[:30] or "business"
                address = (
                    f"{rng.choice(('info', 'office', 'billing', 'accounts'))}@{slug}.example.com"
                )
            else:
                address = self._email(first, last)
            self.plan.emails.append(
                self._new(Email, person=person, address=address, is_primary=True)
            )

    def individual(
        self,
        mailing: dict[str, str],
        *,
        opened: date,
        origin: str | None = None,
        last: str | None = None,
        sex: str | None = None,
        min_age: int = 19,
    ) -> Person:
        rng = self.rng
        origin = origin or self.names.origin(rng)
        sex = sex or rng.choice("FM")
        first = self.names.first(rng, origin, sex)
        last = last or self.names.last(rng, origin)
        middle = rng.choice("ABCDEFGHJKLMNPRSTW") if rng.random() < 0.12 else ""
        suffix = (
            rng.choice(("Jr.", "Sr.", "III"))
            if origin == "us" and sex == "M" and rng.random() < 0.03
            else ""
        )
        birth = ""
        if rng.random() < 0.6:
            age = min_age + int(rng.betavariate(2.0, 3.0) * (96 - min_age))
            born = self.as_of - timedelta(days=age * 365 + rng.randint(0, 364))
            birth = born.isoformat()
        ssn = f"{rng.randint(1, 9999):04d}" if rng.random() < 0.55 else ""
        verified = bool(ssn) and rng.random() < 0.8
        person = self._new(
            Person,
            kind=Person.Kind.INDIVIDUAL,
            first_name=first,
            middle_name=middle,
            last_name=last,
            suffix=suffix,
            preferred_language=self.names.language(rng, origin),
            date_of_birth=birth,
            ssn_last4=ssn,
            identity_status=Person.Identity.VERIFIED if verified else Person.Identity.UNVERIFIED,
            identity_verified_at=_moment(opened, rng) if verified else None,
            identity_method=rng.choice(("Driver license", "Credit bureau", "Passport", "State ID"))
            if verified
            else "",
            created_at=_moment(opened, rng),
            **mailing,
        )
        self.plan.persons.append(person)
        self._contacts(person, email_share=0.72, first=first, last=last)
        return person

    def business(self, mailing: dict[str, str], *, opened: date, large: bool) -> tuple[Person, str]:
        rng = self.rng
        if large:
            trade, premise_type = rng.choice(_TRADES_LARGE)
            name = f"{rng.choice(_BUSINESS_PLACES)} {trade}"
        else:
            premise_type = Premise.Type.COMMERCIAL
            owner = self.names.last(rng, self.names.origin(rng))
            name = rng.choice(
                (
                    f"{owner}'s {rng.choice(_TRADES_SMALL)}",
                    f"{rng.choice(_BUSINESS_PLACES)} {rng.choice(_TRADES_SMALL)}",
                    f"{owner} Family {rng.choice(_TRADES_SMALL)}",
                )
            )
        form = rng.choice(_LEGAL_FORMS)
        if form:
            name = f"{name} {form}"
        tax_id = (
            f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}"
            if rng.random() < 0.7
            else ""
        )
        person = self._new(
            Person,
            kind=Person.Kind.BUSINESS,
            business_name=name,
            tax_id=tax_id,
            created_at=_moment(opened, rng),
            **mailing,
        )
        self.plan.persons.append(person)
        self._contacts(person, email_share=0.85)
        return person, premise_type

    def _landlord(self) -> Person:
        rng = self.rng
        mailing = self._mailing_elsewhere()
        opened = date(2005, 1, 1) + timedelta(days=rng.randint(0, 5000))
        if rng.random() < 0.55:
            name = f"{rng.choice(_BUSINESS_PLACES)} {rng.choice(_LANDLORD_FIRMS)} {rng.choice(('LLC', 'Inc.', 'LP'))}"
            person = self._new(
                Person,
                kind=Person.Kind.BUSINESS,
                business_name=name,
                created_at=_moment(opened, rng),
                **mailing,
            )
            self.plan.persons.append(person)
            self._contacts(person, email_share=0.9)
            return person
        return self.individual(mailing, opened=opened, min_age=35)

    def _mailing_elsewhere(self) -> dict[str, str]:
        rng = self.rng
        if rng.random() < 0.5:
            return {
                "address_line1": f"PO Box {rng.randint(100, 9999)}",
                "address_line2": "",
                "city": CITY,
                "state": STATE,
                "postal_code": rng.choice(("94501", "94502")),
            }
        city, zip_code = rng.choice(_ELSEWHERE)
        street = rng.choice(self.streets)
        return {
            "address_line1": f"{rng.randint(100, 9999)} {street.name.split(' ')[0]} Blvd",
            "address_line2": "",
            "city": city,
            "state": "NV" if city == "Reno" else STATE,
            "postal_code": zip_code,
        }

    # -- accounts --------------------------------------------------------------------

    def statuses(self, sites: list[_Site], *, closed: int, final: int, pending: int) -> None:
        rng = self.rng
        residential = [s for s in sites if s.customer_class == "residential"]
        rng.shuffle(residential)
        # Pending: new construction; final: the customer moved out, nobody has moved in yet;
        # closed: an earlier customer at a site where someone now lives.
        for site in residential[:pending]:
            site.status = Account.Status.PENDING
        for site in residential[pending : pending + final]:
            site.status = Account.Status.FINAL
        movers = residential[pending + final :]
        movers.sort(
            key=lambda s: s.premise.premise_type != Premise.Type.MULTI_FAMILY
        )  # renters move most
        head = movers[: max(closed * 2, closed)]
        rng.shuffle(head)
        for site in head[:closed]:
            site.has_predecessor = True

    def accounts(self, sites: list[_Site]) -> None:
        rng = self.rng
        for site in sites:
            if site.has_predecessor:
                moved_in = self.as_of - timedelta(days=rng.randint(60, 3 * 365))
                opened = moved_in - timedelta(days=rng.randint(200, 10 * 365))
                self._account(site, Account.Status.CLOSED, opened=opened, end=moved_in)
                self._account(site, Account.Status.ACTIVE, opened=moved_in)
            elif site.status == Account.Status.PENDING:
                opened = self.as_of - timedelta(days=rng.randint(0, 6))
                self._account(
                    site,
                    Account.Status.PENDING,
                    opened=opened,
                    start=self.as_of + timedelta(days=rng.randint(1, 14)),
                )
            elif site.status == Account.Status.FINAL:
                end = self.as_of - timedelta(days=rng.randint(1, 45))
                opened = end - timedelta(days=rng.randint(120, 8 * 365))
                self._account(site, Account.Status.FINAL, opened=opened, end=end)
                site.planned_point.energized = rng.random() < 0.5
            else:
                years = min(rng.expovariate(1 / 7), 30)
                opened = self.as_of - timedelta(days=max(14, int(years * 365)))
                self._account(site, Account.Status.ACTIVE, opened=opened)

    def _rate(self, site: _Site) -> RateSchedule:
        rng = self.rng
        if site.customer_class == "large_commercial":
            return self.rates["A-10"]
        if site.customer_class == "small_commercial":
            return self.rates["A-1"]
        if site.planned_meter.kind == Meter.Kind.MANUAL:
            return self.rates["E-1"]  # time-of-use and net metering need an interval meter
        roll = rng.random()
        if roll < 0.78:
            return self.rates["E-1"]
        if roll < 0.90:
            return self.rates["E-TOU"]
        if roll < 0.95:
            return self.rates["EV-TOU"]
        return self.rates["NEM"]

    def _account(
        self,
        site: _Site,
        status: str,
        *,
        opened: date,
        end: date | None = None,
        start: date | None = None,
    ) -> None:
        rng = self.rng
        plan = self.plan
        premise = site.premise
        service_mailing = {
            "address_line1": premise.address_line1,
            "address_line2": premise.unit,
            "city": CITY,
            "state": STATE,
            "postal_code": premise.postal_code,
        }
        roll = rng.random()
        mailing = self._mailing_elsewhere() if roll < 0.035 else service_mailing
        commercial = site.customer_class != "residential"
        if commercial:
            main, premise_type = self.business(
                mailing, opened=opened, large=site.customer_class == "large_commercial"
            )
            premise.premise_type = premise_type
            language = "en"
        else:
            main = self.individual(mailing, opened=opened)
            language = main.preferred_language
        cycle = (int(site.planned_point.route[1:]) - 1) % 20 + 1
        paperless = rng.random() < 0.3
        has_mobile_consent = any(p.person is main and p.sms_consent for p in plan.phones[-2:])
        account = self._new(
            Account,
            status=status,
            bill_cycle=cycle,
            opened_date=opened,
            created_at=_moment(opened, rng),
            language=language,
            paperless=paperless,
            notify_by_mail=not paperless,
            notify_by_email=rng.random() < 0.8,
            notify_by_sms=has_mobile_consent,
            **mailing,
        )
        if status in (Account.Status.FINAL, Account.Status.CLOSED):
            account.final_date = end
        if status == Account.Status.CLOSED:
            assert end is not None  # closed accounts are always planned with their end date
            account.closed_date = min(end + timedelta(days=rng.randint(20, 55)), self.as_of)
        plan.accounts.append(account)
        plan.account_classes.append(site.customer_class)
        links = [
            self._new(
                AccountPerson,
                account=account,
                person=main,
                role=AccountPerson.Role.MAIN,
                start_date=opened,
            )
        ]

        if not commercial and rng.random() < 0.2:
            spouse_origin = self.names.origin(rng)
            same_name = rng.random() < 0.7
            co = self.individual(
                mailing,
                opened=opened,
                origin=spouse_origin,
                last=main.last_name if same_name else None,
            )
            links.append(
                self._new(
                    AccountPerson,
                    account=account,
                    person=co,
                    role=AccountPerson.Role.CO_APPLICANT,
                    start_date=opened,
                )
            )
        if commercial and rng.random() < 0.35:
            contact = self.individual(mailing, opened=opened, min_age=25)
            links.append(
                self._new(
                    AccountPerson,
                    account=account,
                    person=contact,
                    role=AccountPerson.Role.AUTHORIZED,
                    start_date=opened,
                )
            )
        if site.landlord is not None:
            links.append(
                self._new(
                    AccountPerson,
                    account=account,
                    person=site.landlord,
                    role=AccountPerson.Role.LANDLORD,
                    start_date=opened,
                )
            )
        elderly = main.date_of_birth and date.fromisoformat(
            main.date_of_birth
        ) < self.as_of - timedelta(days=75 * 365)
        if (elderly and rng.random() < 0.4) or (not commercial and rng.random() < 0.005):
            helper = self.individual(
                self._mailing_elsewhere() if rng.random() < 0.5 else mailing,
                opened=opened,
                min_age=30,
            )
            links.append(
                self._new(
                    AccountPerson,
                    account=account,
                    person=helper,
                    role=AccountPerson.Role.THIRD_PARTY,
                    start_date=opened,
                )
            )
        if status == Account.Status.CLOSED:
            for link in links:
                link.end_date = end
        plan.links.extend(links)

        sa_start = start or opened
        sa = self._new(
            ServiceAgreement,
            account=account,
            service_point=site.point,
            rate_schedule=self._rate(site),
            start_date=sa_start,
        )
        if status == Account.Status.PENDING:
            sa.status = ServiceAgreement.Status.PENDING_START
        elif end is not None:
            sa.status, sa.end_date = ServiceAgreement.Status.STOPPED, end
        else:
            sa.status = ServiceAgreement.Status.ACTIVE
        plan.agreements.append(sa)

        if status in (Account.Status.ACTIVE, Account.Status.PENDING):
            self._flags(account, site, commercial=commercial)
        self._interactions(account, main, opened=opened, end=end)

    def _alert(self, account: Account, kind: str, note: str, *, start: date) -> None:
        start = max(start, account.opened_date)
        self.plan.alerts.append(
            self._new(
                AccountAlert,
                account=account,
                kind=kind,
                note=note,
                start_date=start,
                created_at=_moment(start, self.rng),
            )
        )

    def _flags(self, account: Account, site: _Site, *, commercial: bool) -> None:
        rng = self.rng
        since = max(account.opened_date, self.as_of - timedelta(days=rng.randint(30, 900)))
        if not commercial:
            if rng.random() < 0.003:
                account.life_support = account.medical_baseline = True
                device = rng.choice(
                    (
                        "Oxygen concentrator",
                        "Home dialysis",
                        "Ventilator",
                        "Electric wheelchair charger",
                    )
                )
                self._alert(
                    account,
                    AccountAlert.Kind.LIFE_SUPPORT,
                    f"{device} at the premise: call before any field visit; never disconnect without the life-support process.",
                    start=since,
                )
            elif rng.random() < 0.01:
                account.medical_baseline = True
            if rng.random() < 0.003:
                account.do_not_disconnect = True
                account.do_not_disconnect_reason = rng.choice(
                    (
                        "Medical certificate on file",
                        "Pending LIHEAP pledge",
                        "Extreme-heat protection",
                        "Active bill dispute under review",
                    )
                )
                account.do_not_disconnect_until = self.as_of + timedelta(days=rng.randint(30, 180))
        if rng.random() < 0.004:
            account.cash_only = True
            self._alert(
                account,
                AccountAlert.Kind.CASH_ONLY,
                f"{rng.choice(('Two', 'Three'))} returned payments in 12 months: cash, money order or card only.",
                start=since,
            )
        if rng.random() < 0.005:
            month = (self.as_of.replace(day=1) - timedelta(days=rng.randint(1, 60))).strftime("%B")
            self._alert(
                account,
                AccountAlert.Kind.DISPUTE,
                f"Customer disputes the {month} bill; hold collection on the disputed amount.",
                start=self.as_of - timedelta(days=rng.randint(1, 40)),
            )
        if rng.random() < 0.015:
            hazard = rng.choice(
                (
                    "Large dog in back yard",
                    "Aggressive dog — call ahead",
                    "Locked gate: code on file",
                    "Beehive near meter",
                    "Loose steps to meter",
                )
            )
            self._alert(account, AccountAlert.Kind.SAFETY, hazard, start=since)
            site.planned_point.access_notes = hazard
        if rng.random() < 0.0012:
            chapter = rng.choice((7, 13))
            self._alert(
                account,
                AccountAlert.Kind.BANKRUPTCY,
                f"Chapter {chapter} petition filed, case 26-{rng.randint(10000, 99999)}; pre-petition balance is stayed.",
                start=since,
            )

    _REASON_WEIGHTS = [
        ("billing_question", 18),
        ("high_bill", 14),
        ("payment", 16),
        ("start_service", 6),
        ("stop_service", 4),
        ("transfer_service", 3),
        ("outage", 8),
        ("disconnect_notice", 4),
        ("program", 6),
        ("meter", 5),
        ("account_update", 9),
        ("complaint", 2),
        ("identity", 2),
        ("other", 3),
    ]
    _NOTES = {
        "billing_question": [
            "Explained the baseline allowance and tiers.",
            "Walked through the bill line by line.",
            "Customer asked about the due date; explained the bill cycle.",
        ],
        "high_bill": [
            "Usage up with the heat wave; showed hourly usage.",
            "Compared with last year: more days in the period.",
            "New space heater; suggested time-of-use rate review.",
        ],
        "payment": [
            "Took payment over the phone.",
            "Set up a payment arrangement over three months.",
            "Customer asked about autopay; sent the enrolment link.",
        ],
        "start_service": ["Start requested; identity verified.", "Move-in start scheduled."],
        "stop_service": ["Stop requested for move-out; final bill to the new address."],
        "transfer_service": ["Transfer within the city; balance moved to the new account."],
        "outage": [
            "Reported outage on the block; crew dispatched.",
            "Flickering lights; referred to field.",
        ],
        "disconnect_notice": [
            "Customer received the 48-hour notice; arranged payment.",
            "Explained the notice and the options.",
        ],
        "program": [
            "Sent the CARE application.",
            "Asked about the medical baseline; mailed the form.",
            "Interested in the rooftop solar program.",
        ],
        "meter": ["Asked how the smart meter works.", "Gate code updated for the meter reader."],
        "account_update": [
            "Updated the mailing address.",
            "Added a mobile number and text alerts.",
            "Switched to paperless billing.",
        ],
        "complaint": ["Unhappy with the wait time; apologized and resolved the question."],
        "identity": ["Verified identity with a driver license in person."],
        "other": ["General question answered."],
    }
    _CHANNELS = [
        ("phone", 60),
        ("email", 12),
        ("portal", 10),
        ("in_person", 8),
        ("field", 4),
        ("mail", 3),
        ("sms", 3),
    ]

    def _interactions(
        self, account: Account, person: Person, *, opened: date, end: date | None
    ) -> None:
        rng = self.rng
        if rng.random() >= 0.35:
            return
        last_day = min(end or self.as_of, self.as_of)
        first_day = max(opened, self.as_of - timedelta(days=365))
        if first_day >= last_day:
            return
        codes = [c for c, _ in self._REASON_WEIGHTS]
        weights = [w for _, w in self._REASON_WEIGHTS]
        channels = [c for c, _ in self._CHANNELS]
        channel_weights = [w for _, w in self._CHANNELS]
        agents = ["csr"] * 7 + ["lead", "lead", "collections", "cashier"]
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            code = rng.choices(codes, weights)[0]
            channel = rng.choices(channels, channel_weights)[0]
            day = first_day + timedelta(
                days=rng.randint(0, (last_day - first_day).days - 1) if last_day > first_day else 0
            )
            actor = None if channel == "portal" else self.staff[rng.choice(agents)]
            self.plan.interactions.append(
                self._new(
                    Interaction,
                    account=account,
                    person=person,
                    channel=channel,
                    direction=Interaction.Direction.OUTBOUND
                    if channel == "field" or rng.random() < 0.1
                    else Interaction.Direction.INBOUND,
                    reason=self.reasons[code],
                    note=rng.choice(self._NOTES[code]),
                    actor=actor,
                    occurred_at=_moment(day, rng),
                )
            )

    _WORK = [
        ("callback", "Call back about the high bill"),
        ("callback", "Customer asked for a call back after 5 pm"),
        ("general", "Mail a copy of the last two bills"),
        ("general", "Confirm landlord contact details"),
        ("identity_review", "Identity documents received: review"),
        ("account_review", "Review do-not-disconnect expiry"),
        ("meter_exception", "Zero usage for 10 days on an occupied premise"),
        ("meter_exception", "Reverse energy flow without net metering"),
        ("field_followup", "Meter access blocked by a locked gate"),
        ("field_followup", "Check seal on meter"),
        ("investigation", "Possible meter bypass reported by the reader"),
        ("collections_review", "Returned payment: review cash-only status"),
    ]

    def work(self) -> None:
        rng = self.rng
        active = [a for a in self.plan.accounts if a.status == Account.Status.ACTIVE]
        if not active:
            return
        for k in range(min(24, max(len(self._WORK), len(active) // 1500))):
            code, title = self._WORK[k % len(self._WORK)]
            self.plan.work.append((code, title, rng.choice(active), rng.randint(0, 9)))


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------

_CHUNK = 5000

#: Every table the planner fills, in the order rows must be written (referenced rows first).
_MODELS = [
    Person,
    Phone,
    Email,
    Premise,
    ServicePoint,
    Meter,
    MeterChannel,
    MeterInstallation,
    Account,
    AccountPerson,
    ServiceAgreement,
    AccountAlert,
    Interaction,
]


def _first_ids() -> dict[type, int]:
    return {
        model: (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1
        for model in _MODELS
    }


def _insert(model, rows: Sequence, stage: str, progress: Progress | None) -> None:
    """Insert planned rows (primary keys set) set-based (``ohm.core.bulk``), chunk by chunk
    so the progress bar moves; ``bulk_create`` compiles SQL per batch and costs ~3× more."""
    total = len(rows)
    for start in range(0, total, _CHUNK):
        insert_instances(model, rows[start : start + _CHUNK])
        if progress:
            progress(stage, min(start + _CHUNK, total), total)
    if progress and total == 0:
        progress(stage, 0, 0)


def _reset_sequences() -> None:
    """After explicit primary keys, PostgreSQL's identity sequences must move past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), _MODELS)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def _digest(plan: _Plan) -> str:
    """A fingerprint of what a seed produced: names, numbers, addresses, serials, contacts."""
    digest = hashlib.sha256()

    def add(values: Iterable[str]) -> None:
        for value in values:
            digest.update(value.encode())
            digest.update(b"\x1f")
        digest.update(b"\x1e")

    add(f"{a.number}|{a.status}|{a.bill_cycle}|{a.opened_date}" for a in plan.accounts)
    add(
        f"{p.display_name}|{p.date_of_birth}|{p.ssn_last4}|{p.preferred_language}"
        for p in plan.persons
    )
    add(f"{p.number}|{p.one_line}|{p.baseline_territory}|{p.heat_source}" for p in plan.premises)
    add(f"{s.number}|{s.route}|{s.read_sequence}" for s in plan.points)
    add(f"{m.serial}|{m.multiplier}" for m in plan.meters)
    add(f"{p.number}" for p in plan.phones)
    add(f"{e.address}" for e in plan.emails)
    add(f"{sa.number}|{sa.rate_schedule.code}|{sa.status}" for sa in plan.agreements)
    return digest.hexdigest()


def build_demo_utility(
    *, accounts: int, seed: int, as_of: date, progress: Progress | None = None
) -> DemoSummary:
    """Build the demo utility with about ``accounts`` accounts into an empty database.

    :raises DemoDatabaseNotEmpty: when any account exists.
    :raises ValueError: when ``accounts`` is below 1.
    """
    if accounts < 1:
        raise ValueError("The demo needs at least one account.")
    existing = Account.objects.count()
    if existing:
        raise DemoDatabaseNotEmpty(
            f"The database already has {existing:,} accounts; the demo loads only into an empty database."
        )
    started = time.monotonic()
    stages: dict[str, float] = {}
    staff_created = ensure_staff_users()
    rates = ensure_demo_rates()
    ensure_demo_rate_versions(rates, as_of=as_of)
    users = get_user_model()
    staff = {name: users.objects.get(username=name) for _, name in DEMO_STAFF}
    reasons = {r.code: r for r in InteractionReason.objects.all()}

    planner = _Planner(
        seed=seed, as_of=as_of, rates=rates, reasons=reasons, staff=staff, first_ids=_first_ids()
    )
    closed = _quota(accounts, 0.03, at_least=1 if accounts >= 20 else 0)
    final = _quota(accounts, 0.015, at_least=1 if accounts >= 20 else 0)
    pending = _quota(accounts, 0.01, at_least=1 if accounts >= 20 else 0)
    sites = planner.sites(accounts - closed)
    planner.routes(sites)
    planner.statuses(sites, closed=closed, final=final, pending=pending)
    planner.meters(sites)
    planner.accounts(sites)
    planner.work()
    plan = planner.plan
    stages["plan"] = time.monotonic() - started
    if progress:
        progress("planned", 1, 1)

    mark = time.monotonic()
    with transaction.atomic():
        for number, account in zip(
            identifiers.next_account_numbers(len(plan.accounts)), plan.accounts, strict=True
        ):
            account.number = number
        for number, premise in zip(
            identifiers.next_numbers("premise", prefix="P", width=8, count=len(plan.premises)),
            plan.premises,
            strict=True,
        ):
            premise.number = number
        for number, point in zip(
            identifiers.next_numbers("service_point", prefix="SP", width=8, count=len(plan.points)),
            plan.points,
            strict=True,
        ):
            point.number = number
        for number, sa in zip(
            identifiers.next_numbers(
                "service_agreement", prefix="SA", width=8, count=len(plan.agreements)
            ),
            plan.agreements,
            strict=True,
        ):
            sa.number = number
        _insert(Person, plan.persons, "persons", progress)
        _insert(Phone, plan.phones, "phones", progress)
        _insert(Email, plan.emails, "emails", progress)
        _insert(Premise, plan.premises, "premises", progress)
        _insert(ServicePoint, plan.points, "service points", progress)
        _insert(Meter, plan.meters, "meters", progress)
        _insert(MeterChannel, plan.channels, "meter channels", progress)
        _insert(MeterInstallation, plan.installations, "meter installations", progress)
        _insert(Account, plan.accounts, "accounts", progress)
        _insert(AccountPerson, plan.links, "account persons", progress)
        _insert(ServiceAgreement, plan.agreements, "service agreements", progress)
        _insert(AccountAlert, plan.alerts, "alerts", progress)
        _insert(Interaction, plan.interactions, "interactions", progress)
        _reset_sequences()
        work_items = WorkItem.objects.bulk_create(_work_items(plan, staff, planner.at))
    stages["load"] = time.monotonic() - mark

    mark = time.monotonic()
    rebuild_index(
        progress=(lambda done, total: progress("search index", done, total)) if progress else None
    )
    if connection.vendor == "postgresql":
        # Fresh statistics and visibility map: without them the planner guesses the token
        # ranges and index-only scans visit the heap, making search 2-4x slower until
        # autovacuum gets round to it. VACUUM cannot run inside a transaction (tests).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
    stages["index"] = time.monotonic() - mark

    by_class: dict[str, int] = {}
    for customer_class in plan.account_classes:
        by_class[customer_class] = by_class.get(customer_class, 0) + 1
    by_status: dict[str, int] = {}
    for account in plan.accounts:
        by_status[account.status] = by_status.get(account.status, 0) + 1
    summary = DemoSummary(
        accounts=len(plan.accounts),
        persons=len(plan.persons),
        premises=len(plan.premises),
        service_points=len(plan.points),
        meters=len(plan.meters),
        agreements=len(plan.agreements),
        alerts=len(plan.alerts),
        interactions=len(plan.interactions),
        work_items=len(work_items),
        by_class=by_class,
        by_status=by_status,
        staff_created=staff_created,
        seed=seed,
        as_of=as_of,
        digest=_digest(plan),
        stage_seconds=stages,
    )
    summary.seconds = time.monotonic() - started
    audit.record(
        "batch.demo.loaded",
        subject=None,
        actor=SystemActor("demo"),
        at=planner.at,
        after={
            "seed": seed,
            "as_of": as_of,
            "accounts": summary.accounts,
            "persons": summary.persons,
            "premises": summary.premises,
            "meters": summary.meters,
            "agreements": summary.agreements,
            "by_class": by_class,
            "by_status": by_status,
            "digest": summary.digest,
        },
    )
    return summary


def _work_items(plan: _Plan, staff: dict[str, User], at: datetime) -> list[WorkItem]:
    categories = {c.code: c for c in WorkCategory.objects.select_related("team")}
    account_type = ContentType.objects.get_for_model(Account)
    owner_by_team = {role_group(slug).pk: staff[name] for slug, name in DEMO_STAFF}
    items = []
    for position, (code, title, account, days_ago) in enumerate(plan.work):
        category = categories.get(code)
        if category is None:
            continue
        created_at = at - timedelta(days=days_ago)
        assigned = position % 3 == 0
        items.append(
            WorkItem(
                category=category,
                title=title,
                priority=category.default_priority,
                team=category.team,
                status=WorkItem.Status.IN_PROGRESS if assigned else WorkItem.Status.OPEN,
                assignee=owner_by_team.get(category.team_id) if assigned else None,
                subject_type=account_type,
                subject_id=str(account.pk),
                account_id=account.pk,
                account_number=account.number,
                due_date=add_business_days(localdate(created_at), category.due_days),
                created_at=created_at,
                created_by_label="demo",
            )
        )
    return items

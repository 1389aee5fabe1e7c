"""``ohm api_token create|list|revoke``: tokens for integrations calling the REST API.

This lives in the API app, not in ``ohm.batch``: the interface apps do not import each
other, and the token logic belongs to the API.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ohm.api import tokens
from ohm.api.auth import USE_API
from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.localtime import to_local
from ohm.core.models import ApiToken

ACTOR = SystemActor("api_token command")


class Command(BaseCommand):
    help = "Create, list and revoke API tokens. A new token is printed once and never again."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="create|list|revoke")
        create = actions.add_parser("create", help="Make a token for a user; prints it once.")
        create.add_argument("--user", required=True, help="Username the token acts as")
        create.add_argument("--name", required=True, help='What uses it, e.g. "IVR"')
        listing = actions.add_parser("list", help="Show tokens (never the tokens themselves).")
        listing.add_argument("--all", action="store_true", help="Include revoked tokens")
        revoke = actions.add_parser("revoke", help="Stop a token working.")
        revoke.add_argument("id", type=int, help="Token id, from `list`")
        revoke.add_argument("--reason", default="", help="Why, for the audit trail")

    def handle(self, *args, **options):
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options):
        name = options["name"].strip()
        if not name:
            raise CommandError("--name: say what will use the token, e.g. --name IVR.")
        try:
            user = get_user_model().objects.get(username=options["user"])
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"--user: no user named “{options['user']}”.") from exc
        row, token = tokens.create_token(user=user, name=name, actor=ACTOR, at=clock.now())
        self.stdout.write(token)
        self.stderr.write(
            f"Token {row.pk} “{row.name}” for {user.username}. Store it now: it is not shown again."
        )
        if not user.is_active or not user.has_perm(USE_API):
            self.stderr.write(
                self.style.WARNING(
                    f"{user.username} cannot use the API yet: the user must be active and "
                    f"have the permission {USE_API}."
                )
            )

    def _list(self, options):
        rows = ApiToken.objects.select_related("user").order_by("id")
        if not options["all"]:
            rows = rows.filter(revoked_at__isnull=True)
        self.stdout.write(
            f"{'id':>4}  {'prefix':<9} {'user':<16} {'name':<24} {'created':<17} "
            f"{'last used':<17} revoked"
        )
        for row in rows:
            self.stdout.write(
                f"{row.pk:>4}  {row.prefix + '…':<9} {row.user.username:<16} {row.name[:24]:<24} "
                f"{_when(row.created_at):<17} {_when(row.last_used_at):<17} "
                f"{_when(row.revoked_at)}"
            )

    def _revoke(self, options):
        row = ApiToken.objects.filter(pk=options["id"]).first()
        if row is None:
            raise CommandError(f"No API token {options['id']} (see `ohm api_token list --all`).")
        try:
            tokens.revoke_token(token=row, actor=ACTOR, at=clock.now(), reason=options["reason"])
        except tokens.TokenAlreadyRevoked as exc:
            raise CommandError(f"API token {row.pk} was already revoked.") from exc
        self.stdout.write(f"Revoked API token {row.pk} “{row.name}” ({row.prefix}…).")


def _when(moment) -> str:
    return f"{to_local(moment):%Y-%m-%d %H:%M}" if moment else "-"

import base64
import os

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Print a new key for OHM_FIELD_KEYS (put it first to rotate; keep the old ones after it)."
    )

    def handle(self, *args, **options):
        self.stdout.write(base64.urlsafe_b64encode(os.urandom(32)).decode())

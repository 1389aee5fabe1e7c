from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ohm.ledger"
    label = "ledger"
    verbose_name = "Ledger"

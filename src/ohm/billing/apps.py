from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ohm.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from ohm.billing import runs

        runs.register()

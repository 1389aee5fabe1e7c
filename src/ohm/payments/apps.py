from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "ohm.payments"
    label = "payments"

    def ready(self) -> None:
        from ohm.payments import imports

        imports.register_job()

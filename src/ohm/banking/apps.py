"""Banking: ACH autopay enrolment, NACHA files and returns, refunds and disbursements (check register, positive pay, ACH credits)."""

from django.apps import AppConfig


class BankingConfig(AppConfig):
    name = "ohm.banking"
    label = "banking"

    def ready(self) -> None:
        from ohm.banking import ach

        ach.register_job()

"""The search index: one document per account (what a result row shows) and its tokens."""

from __future__ import annotations

from django.db import models


class BinaryCharField(models.CharField):
    """A CharField compared byte by byte on every database ("C" on PostgreSQL, BINARY on
    SQLite), so a prefix search is an index range scan ``[prefix, prefix + "~")``."""

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        params["collation"] = "C" if connection.vendor == "postgresql" else None
        return params


class SearchDocument(models.Model):
    account = models.OneToOneField(
        "customers.Account", on_delete=models.CASCADE, related_name="search_document"
    )
    account_number = models.CharField(max_length=10)
    display_name = models.CharField(max_length=200)
    service_address = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    email = models.CharField(max_length=254, blank=True)
    meter_serials = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10)
    rank = models.PositiveSmallIntegerField(
        default=1, help_text="0 active, 1 pending/final, 2 closed: active first"
    )

    def __str__(self) -> str:
        return f"{self.account_number} {self.display_name}"


class SearchToken(models.Model):
    """One normalized word (lowercase letters and digits) that finds a document."""

    document = models.ForeignKey(SearchDocument, on_delete=models.CASCADE, related_name="tokens")
    token = BinaryCharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["token", "document"], name="search_token_prefix")]

    def __str__(self) -> str:
        return self.token

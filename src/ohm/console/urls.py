"""Console URLs: the shell, search and account page (urls_core) and the record and work
queue pages (urls_records)."""

from ohm.console.urls_banking import urlpatterns as banking_patterns
from ohm.console.urls_billing import urlpatterns as billing_patterns
from ohm.console.urls_books import urlpatterns as books_patterns
from ohm.console.urls_core import urlpatterns as core_patterns
from ohm.console.urls_financials import urlpatterns as financial_patterns
from ohm.console.urls_meterdata import urlpatterns as meterdata_patterns
from ohm.console.urls_payments import urlpatterns as payment_patterns
from ohm.console.urls_rates import urlpatterns as rate_patterns
from ohm.console.urls_records import urlpatterns as record_patterns

app_name = "console"

urlpatterns = core_patterns + record_patterns + books_patterns + financial_patterns + rate_patterns
urlpatterns += meterdata_patterns
urlpatterns += billing_patterns
urlpatterns += banking_patterns
urlpatterns += payment_patterns

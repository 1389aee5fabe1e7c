"""Console URLs for the views of the books: an account's financial history and statement, and
the aging report, trial balance, GL summary and journal entries."""

from django.urls import path

from ohm.console.views import books

urlpatterns = [
    path("accounts/<str:number>/history/", books.account_history, name="account_history"),
    path("accounts/<str:number>/statement.csv", books.statement_csv, name="statement_csv"),
    path("accounts/<str:number>/statement.pdf", books.statement_pdf, name="statement_pdf"),
    path("books/aging/", books.aging_report, name="books_aging"),
    path("books/trial-balance/", books.trial_balance, name="books_trial_balance"),
    path("books/gl-summary/", books.gl_summary, name="books_gl_summary"),
    path("books/gl-summary.csv", books.gl_summary_csv, name="books_gl_summary_csv"),
    path("books/entries/<int:entry_id>/", books.entry_detail, name="books_entry"),
]

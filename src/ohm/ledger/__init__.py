"""The books: a double-entry, append-only receivables ledger."""

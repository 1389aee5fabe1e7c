"""Payments: tenders and channels, posting and application, suspense, transfers, reversals, cash drawers, cards, lockbox and bank files."""

"""Persons, customer accounts, the people on an account, alerts and interactions."""

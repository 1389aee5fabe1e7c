"""Billing: cycles and calendars, the bill run, bills with their determinants and lines, exceptions, cancel/rebill, presentment."""

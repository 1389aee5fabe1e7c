"""Ohm: an open-source customer information system for public-power electric utilities."""

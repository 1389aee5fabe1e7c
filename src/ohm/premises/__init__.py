"""Premises (service addresses) and their service points."""

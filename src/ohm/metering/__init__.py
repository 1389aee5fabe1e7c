"""Meters, their channels and installation history; meter data arrives in a later issue."""

"""The REST API for integrations (django-ninja, token auth) (interfaces)."""

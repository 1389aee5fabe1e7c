"""The CSR console: server-rendered pages with htmx (interfaces)."""

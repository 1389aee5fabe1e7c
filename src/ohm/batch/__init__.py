"""Command-line and scheduled work: demo data, benchmarks, serving, batch jobs (interfaces)."""

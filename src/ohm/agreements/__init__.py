"""Service agreements: an account taking service at a service point on a rate."""

"""Foundation: money, time, identifiers, audit, encryption and roles. Imports no other Ohm app."""

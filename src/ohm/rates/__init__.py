"""Rate schedules (tariffs as data); versions and the rating engine arrive in a later issue."""

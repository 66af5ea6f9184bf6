"""Automation: the arrival sensor over the landing zone, the held-days sensor, run-failure
alerts, the nightly schedule and the declarative automation conditions."""

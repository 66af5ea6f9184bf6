"""Sensors: file arrival in the landing zone (arrival.py) and run failure alerts (alerts.py)."""

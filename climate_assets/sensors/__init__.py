"""Sensors on the landing zone: the arrival sensor over every raw dataset (arrival.py).

The run failure alerts sensor is in ``climate_assets/alerts.py``; the automation condition
sensor in ``climate_assets/automation.py``.
"""

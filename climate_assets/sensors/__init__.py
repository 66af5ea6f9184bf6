"""Sensors on the landing zone: one arrival sensor per raw dataset (arrival.py).

The run failure alerts sensor is in ``climate_assets/alerts.py``; the automation condition
sensor in ``climate_assets/automation.py``.
"""

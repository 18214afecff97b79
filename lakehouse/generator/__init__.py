"""Realistic, deterministic and dirty behaviour data for Beacon (``beacon generate``).

A shop's clickstream (personas, funnels, sessions, churn, an A/B test, bots) and smart homes'
sensor readings (occupancy routines, heating, CO2, appliances, consumables re-ordered in the
shop), written as landing files per delivery day, plus the ground truth of everything planted.
"""

from lakehouse.generator.run import GenerateSummary, generate

__all__ = ["GenerateSummary", "generate"]

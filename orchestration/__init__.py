"""Beacon's Dagster code location: assets, checks, schedules and sensors over the lakehouse."""

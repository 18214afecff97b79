"""Beacon's storage layer: contracts, pseudonymisation, Delta I/O, landing and the generator."""

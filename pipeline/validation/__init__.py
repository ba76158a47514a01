"""Validation of uploads against Frictionless Table Schemas and the domain rules."""

"""Registro de Visitas en Línea: entity visitor logs in, open data out."""

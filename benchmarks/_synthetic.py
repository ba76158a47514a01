"""Pieces of the synthetic visits the pipeline and publication benchmarks generate."""

from __future__ import annotations

#: who visits whom and why, from the row index `i` (DuckDB SQL select list): the same people,
#: entities and reasons in the staged batches and in the consolidated table
PEOPLE_COLUMNS = """'APELLIDO' || (i % 50000) || ' NOMBRE' || (i % 997) AS visitante_nombre,
    'DNI' AS visitante_tipo_documento,
    lpad((i % 99999999)::VARCHAR, 8, '0') AS visitante_numero_documento,
    'Entidad privada' AS visitante_tipo_entidad,
    'EMPRESA ' || (i % 20000) || ' S.A.C.' AS visitante_entidad,
    'FUNCIONARIO ' || (i % 30000) AS funcionario_nombre,
    'OFICINA GENERAL DE ADMINISTRACION' AS funcionario_area,
    'DIRECTOR GENERAL' AS funcionario_cargo,
    'Reunión de trabajo' AS motivo,
    'Coordinación de actividades ' || (i % 100) AS motivo_detalle,
    'Sede central' AS lugar, NULL::VARCHAR AS observacion"""

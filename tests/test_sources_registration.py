"""The keys of `kind: postgres`, `kind: mysql` and `kind: http` are checked when the registry
is loaded: each mistake names the file and the key, in Spanish; a URL with its password is
refused where only a variable's name belongs."""

from __future__ import annotations

import pytest

from pipeline.registry import RegistryError, parse_entity

BASE = {"ruc": "20999400001", "name": "Municipalidad de Ejemplo", "stage": "demo",
        "administrator": {"email": "sistemas@muniejemplo.gob.pe"}}
MAPPING = {"fecha_visita": "fecha", "hora_ingreso": "ingreso", "visitante_nombre": "nombre",
           "visitante_tipo_documento": {"value": "DNI"}, "visitante_numero_documento": "dni",
           "funcionario_nombre": "funcionario", "motivo": "motivo"}
DATABASE = {"kind": "postgres", "url_env": "VISITAS_BD_X", "table": "control.visitas",
            "cursor": "actualizado", "mapping": MAPPING}
API = {"kind": "http", "url": "https://api.example.gob.pe/visitas", "records": "data",
       "mapping": MAPPING}


def parse(source: dict) -> object:
    return parse_entity({**BASE, "source": source}, "20999400001.yaml")


@pytest.mark.parametrize("source", [
    DATABASE,
    {**DATABASE, "kind": "mysql", "key": ["id"], "batch_rows": 1000},
    {**{k: v for k, v in DATABASE.items() if k != "table"}, "query": "SELECT * FROM v"},
    API,
    {**API, "records": "", "params": {"estado": "todos", "clave": {"env": "API_CLAVE"}},
     "headers": {"Authorization": {"env": "API_TOKEN", "prefix": "Bearer "}},
     "pagination": {"type": "page", "param": "page", "size": 100, "size_param": "per_page"},
     "timeout": 10, "retries": 3, "backoff": 0.5, "batch_rows": 10000},
    {**API, "pagination": {"type": "next", "next": "links.next"}},
    {**API, "pagination": {"type": "offset", "param": "offset", "start": 0}},
])
def test_valid_sources_parse(source):
    entity = parse(source)
    assert entity.source_kind == source["kind"] and entity.mapping is not None


@pytest.mark.parametrize(("source", "message"), [
    ({**DATABASE, "url_env": "postgresql://lector:clave@10.1.2.3/visitas"},
     "source.url_env: debe ser el nombre de una variable de entorno (letras, números y _), no "
     "la URL: la URL lleva la clave y nunca va en el archivo de registro."),
    ({k: v for k, v in DATABASE.items() if k != "url_env"}, "source.url_env: falta el nombre"),
    ({**DATABASE, "query": "SELECT 1"}, "indique la tabla (table) o la consulta (query)"),
    ({k: v for k, v in DATABASE.items() if k != "table"}, "indique la tabla (table)"),
    ({k: v for k, v in DATABASE.items() if k != "cursor"}, "source.cursor: falta la columna"),
    ({**DATABASE, "key": "id"}, "source.key debe ser una lista"),
    ({**DATABASE, "batch_rows": 0}, "source.batch_rows debe ser un número entero positivo"),
    ({**DATABASE, "url": "x"}, "clave desconocida source.url; las claves admitidas con kind: "
                               "postgres son:"),
    ({**API, "url": "ftp://x"}, "source.url: falta la dirección de la API"),
    ({**API, "headers": {"Authorization": {"valor": "secreto"}}},
     "source.headers.Authorization: un valor secreto se escribe {env: NOMBRE_DE_LA_VARIABLE}"),
    ({**API, "pagination": {"type": "cursor"}}, "source.pagination.type debe ser page"),
    ({**API, "pagination": {"type": "page"}}, "source.pagination.param: falta el parámetro"),
    ({**API, "pagination": {"type": "page", "param": "p", "limite": 3}},
     "clave desconocida source.pagination.limite"),
    ({**API, "timeout": "rápido"}, "source.timeout debe ser un número"),
    ({**API, "retries": -1}, "source.retries debe ser un número entero mayor o igual que 0"),
    ({**API, "table": "visitas"}, "clave desconocida source.table"),
])
def test_a_wrong_key_is_named(source, message):
    with pytest.raises(RegistryError) as info:
        parse(source)
    assert str(info.value).startswith("20999400001.yaml: ")
    assert message in str(info.value)

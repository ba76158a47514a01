"""A synthetic multi-year history of one entity, in the shapes real exports drift through, and
the exact rows the pipeline must stage from it (for tests/test_backfill.py and the backfill
benchmark).

Four layouts, one entity file (`ENTITY_YAML`):

- `html-2014`: spreadsheets saved as web pages under an .xls name, in Windows-1252 (2014) or
  UTF-8 (2015, with other header names: aliases), one table per day, the day only in a title
  (a row spanning the table, or a heading between tables), times as `8.23`, names as
  "APELLIDOS, NOMBRES", motives as codes (a value map);
- `csv-2016`: one `;` CSV per day in Windows-1252, the date only in the file name, times as
  `10:26:48 AM`, the header renamed in mid-year (aliases); official 12-column target;
- `json-2020`: an API's `{"data": [...]}` pages: date and entry time in one `24/08/21 17:46`
  value, document types `DNI/LE`, "SIN INSTITUCION" for no organisation, a composite place
  (split);
- `json-2022`: a top-level array of nested records (flattened keys), official target built
  with templates.

A few rows of each layout are wrong on purpose (an impossible time, a missing official, an
exit before the entry, a 31 February), with the error type each must be quarantined with.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUC = "20999400044"
NAME = "Municipalidad Provincial de Ejemplo Histórico"

ENTITY_YAML = f"""\
# Entidad sintética con historial en varios formatos (benchmarks/_history.py).
ruc: "{RUC}"
name: "{NAME}"
stage: demo
source:
  kind: files
  layouts:
    - name: html-2014
      mapping:
        fecha_visita: {{from: title, pattern: '(\\d{{1,2}}/\\d{{1,2}}/\\d{{4}})', date_format: "%d/%m/%Y"}}
        hora_ingreso: {{column: [HORA ING., Hora de ingreso], time_format: ["%H.%M", "%H:%M"]}}
        hora_salida: {{column: [HORA SAL., Hora de salida], time_format: ["%H.%M", "%H:%M"]}}
        visitante_nombre: [VISITANTE, Nombre del visitante]
        visitante_tipo_documento: {{value: DNI}}
        visitante_numero_documento: [DNI, Nro. DNI]
        visitante_entidad: {{column: [ENTIDAD, Institución], values: {{SIN INSTITUCION: null, PARTICULAR: null}}}}
        funcionario_nombre: [FUNCIONARIO, Funcionario]
        funcionario_cargo: [CARGO, Cargo]
        motivo:
          column: [MOTIVO, Motivo]
          values: {{REU: Reunión de trabajo, TRA: Trámite documentario, OTR: Otros Motivos}}
    - name: csv-2016
      into: oficial
      mapping:
        Fecha de Visita: {{from: filename, pattern: '(\\d{{4}}-\\d{{2}}-\\d{{2}})', date_format: "%Y-%m-%d"}}
        Visitante: [Visitante, Nombre del visitante]
        Documento del visitante: [Documento, Doc. Identidad]
        Entidad del visitante: [Entidad, Procedencia]
        Hora Ingreso: {{column: [Hora Ingreso, Ingreso], time_format: "%I:%M:%S %p"}}
        Hora Salida: {{column: [Hora Salida, Salida], time_format: "%I:%M:%S %p"}}
        Funcionario visitado: [Funcionario, Funcionario visitado]
        Motivo: [Motivo, Motivo de la visita]
        Lugar específico: Lugar
    - name: json-2020
      when_headers: [idVisita]
      records: data
      mapping:
        fecha_visita: {{column: fechaVisitaRecepcion, date_format: "%d/%m/%y %H:%M"}}
        hora_ingreso: {{column: fechaVisitaRecepcion, time_format: "%H:%M"}}
        hora_salida: {{column: fechaVisitaTermino, time_format: "%H:%M"}}
        visitante_nombre: entidadVisitanteNombreCompleto
        visitante_tipo_documento: {{column: entidadVisitanteTipoDocumento, values: {{"DNI/LE": DNI, "C.EXT.": CE}}}}
        visitante_numero_documento: entidadVisitanteDocumento
        visitante_entidad: {{column: entidad, values: {{SIN INSTITUCION: null}}}}
        funcionario_nombre: empleado
        funcionario_cargo: cargo
        funcionario_area: centroCostoNombre
        motivo: {{column: motivo, values: {{NORMAL: Otros Motivos, REUNION: Reunión de trabajo}}}}
        lugar: {{column: ubicacion, split: {{separator: ":", part: -1}}}}
    - name: json-2022
      when_headers: [hora.ingreso]
      mapping:
        Fecha de Visita: fecha
        Hora Ingreso: hora.ingreso
        Hora Salida: hora.salida
        Visitante: visitante.nombre
        Documento del visitante: {{template: "{{visitante.documento.tipo}} {{visitante.documento.numero}}"}}
        Entidad del visitante: {{template: "Entidad privada - {{visitante.entidad}}"}}
        Funcionario visitado: {{template: "{{funcionario.nombre}} - {{funcionario.area}} - {{funcionario.cargo}}"}}
        Motivo: {{template: "{{motivo.categoria}} - {{motivo.detalle}}"}}
administrator:
  name: "Rosa Ejemplo Histórico"
  email: "visitas@muniejemplohistorico.gob.pe"
"""

SURNAMES = ["QUISPE", "MAMANI", "NÚÑEZ", "PEÑA", "GARCÍA", "HUAMÁN", "RAMÍREZ", "TORRES",
            "FLORES", "CHÁVEZ", "ROJAS", "VILCA", "CÓNDOR", "ÑAUPARI", "SALAZAR", "VARGAS"]
GIVEN = ["JOSÉ", "MARÍA", "ROSA", "JUAN CARLOS", "ANA LUCÍA", "PEDRO", "ELSA", "MIGUEL ÁNGEL",
         "CARMEN", "LUIS", "SOFÍA", "RAÚL"]
OFFICIALS = [("TICONA VELA ELSA NOEMÍ", "GERENCIA DE DESARROLLO URBANO", "GERENTE"),
             ("ÑAUPARI ROJAS JULIO CÉSAR", "OFICINA DE ASESORÍA JURÍDICA", "ASESOR"),
             ("PAREDES LUNA MARTHA", "SUBGERENCIA DE OBRAS - PROYECTOS", "SUBGERENTE"),
             ("VÍLCHEZ SOTO CARLOS", "ALCALDÍA", "ALCALDE")]
ORGANISATIONS = ["CONSTRUCTORA ANDINA SAC", "ASOCIACIÓN DE VECINOS EL SOL",
                 "TRANSPORTES RÁPIDOS EIRL", "COLEGIO DE INGENIEROS"]
MOTIVES = [("REU", "Reunión de trabajo"), ("TRA", "Trámite documentario"),
           ("OTR", "Otros Motivos")]
DETAILS = ["Coordinación de obras", "Consulta de expediente", "Licencia de funcionamiento"]

COLUMNS = ("fecha_registro", "fecha_visita", "hora_ingreso", "hora_salida", "visitante_nombre",
           "visitante_tipo_documento", "visitante_numero_documento", "visitante_tipo_entidad",
           "visitante_entidad", "funcionario_nombre", "funcionario_area", "funcionario_cargo",
           "motivo", "motivo_detalle", "lugar", "observacion")


@dataclass
class Corpus:
    """The files written and what each row must become."""

    files: list[Path] = field(default_factory=list)
    #: (file name, row number) → the staged normalised row (COLUMNS)
    valid: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    #: (file name, row number) → (error type, upload field) it must be quarantined with
    rejected: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    #: layout → (files, rows)
    layouts: dict[str, list[int]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.valid) + len(self.rejected)


class _Visits:
    """Random but reproducible visits, each with its own document (so each is one visit)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.counter = 0

    def visit(self, day: dt.date) -> dict[str, Any]:
        r = self.random
        self.counter += 1
        surnames = f"{r.choice(SURNAMES)} {r.choice(SURNAMES)}"
        given = r.choice(GIVEN)
        entry = dt.time(r.randint(8, 16), r.randint(0, 59), r.randint(0, 59))
        stay = r.randint(15, 120)
        exit_ = (dt.datetime.combine(day, entry) + dt.timedelta(minutes=stay)).time() \
            if r.random() < 0.8 else None
        official = r.choice(OFFICIALS)
        code, motive = r.choice(MOTIVES)
        return {"day": day, "surnames": surnames, "given": given,
                "document": f"{self.counter % 100_000_000:08d}", "entry": entry, "exit": exit_,
                "organisation": r.choice([*ORGANISATIONS, None]), "official": official,
                "code": code, "motive": motive, "detail": r.choice(DETAILS),
                "place": f"PISO {r.randint(1, 4)}"}


def _expected(**values: Any) -> dict[str, Any]:
    return {c: values.get(c) for c in COLUMNS}


def _minutes(t: dt.time | None) -> dt.time | None:
    return t.replace(second=0) if t is not None else None


def write_corpus(folder: Path, *, scale: int = 1, seed: int = 2024,
                 layouts: tuple[str, ...] = ("html-2014", "csv-2016", "json-2020",
                                             "json-2022")) -> Corpus:
    """Write the history under `folder` (one subfolder per year); `scale` multiplies the
    rows per file. Returns the files and the rows they must stage."""
    corpus = Corpus()
    visits = _Visits(seed)
    writers = {"html-2014": _html_files, "csv-2016": _csv_files, "json-2020": _json2020_files,
               "json-2022": _json2022_files}
    for name in layouts:
        before_files, before_rows = len(corpus.files), corpus.rows
        writers[name](folder, corpus, visits, scale)
        corpus.layouts[name] = [len(corpus.files) - before_files, corpus.rows - before_rows]
    return corpus


# --------------------------------------------------------------------------- html-2014

_HTML_HEADERS = {
    2014: ["VISITANTE", "DNI", "ENTIDAD", "HORA ING.", "HORA SAL.", "FUNCIONARIO", "CARGO",
           "MOTIVO"],
    2015: ["Nombre del visitante", "Nro. DNI", "Institución", "Hora de ingreso",
           "Hora de salida", "Funcionario", "Cargo", "Motivo"],
}


def _html_files(folder: Path, corpus: Corpus, visits: _Visits, scale: int) -> None:
    for year, month in ((2014, 3), (2014, 7), (2015, 2), (2015, 9)):
        days = [dt.date(year, month, d) for d in (3, 4, 5)]
        rows_per_day = 6 * scale
        name = f"visitas-{year}-{month:02d}.xls"
        header = _HTML_HEADERS[year]
        parts = ["<html><head><meta http-equiv=Content-Type content=\"text/html; "
                 f"charset={'windows-1252' if year == 2014 else 'utf-8'}\"></head><body>",
                 f"<h2>{html.escape(NAME.upper())} - REGISTRO DE VISITAS</h2>"]
        row = 0
        for d, day in enumerate(days):
            if year == 2014:
                # the day in a row spanning the table, above its header
                parts.append("<table border=1>")
                parts.append(f"<tr><td colspan=8>FECHA: {day:%d/%m/%Y}</td></tr>")
                row += 1
            else:
                parts.append(f"<h3>Visitas del {day.day}/{day.month}/{day.year}</h3><table>")
            parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                         + "</tr>")
            row += 1
            for k in range(rows_per_day):
                v = visits.visit(day)
                row += 1
                official, _area, post = v["official"]
                entry = v["entry"]
                entry_text = f"{entry.hour}.{entry.minute:02d}"
                exit_text = f"{v['exit'].hour}.{v['exit'].minute:02d}" if v["exit"] else ""
                organisation = v["organisation"] or ("SIN INSTITUCION" if k % 2 else "PARTICULAR")
                cells = [f"{v['surnames']}, {v['given']}", v["document"], organisation,
                         entry_text, exit_text, official, post, v["code"]]
                key = (name, row)
                if k == 1 and d == 0:  # an impossible time
                    cells[3] = "25.70"
                    corpus.rejected[key] = ("time-format-mismatch", "hora_ingreso")
                elif k == 2 and d == 1:  # no official named
                    cells[5] = ""
                    corpus.rejected[key] = ("constraint-error", "funcionario_nombre")
                else:
                    corpus.valid[key] = _expected(
                        fecha_visita=day, hora_ingreso=_minutes(entry),
                        hora_salida=_minutes(v["exit"]),
                        visitante_nombre=f"{v['surnames']} {v['given']}",
                        visitante_tipo_documento="DNI", visitante_numero_documento=v["document"],
                        visitante_entidad=v["organisation"], funcionario_nombre=official,
                        funcionario_cargo=post, motivo=v["motive"])
                parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                             + "</tr>")
            parts.append("<tr><td></td><td></td></tr></table>")  # a spacing row
            row += 1
        parts.append("</body></html>")
        path = folder / str(year) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes("\n".join(parts).encode("cp1252" if year == 2014 else "utf-8"))
        corpus.files.append(path)


# ---------------------------------------------------------------------------- csv-2016

_CSV_HEADERS = (["Visitante", "Documento", "Entidad", "Hora Ingreso", "Hora Salida",
                 "Funcionario", "Motivo", "Lugar"],
                ["Nombre del visitante", "Doc. Identidad", "Procedencia", "Ingreso", "Salida",
                 "Funcionario visitado", "Motivo de la visita", "Lugar"])
_DOCUMENT_SPELLINGS = ("DNI {n}", "DNI/LE {n}", "{n}", "DNI: {n}")


def _twelve_hour(t: dt.time) -> str:
    return dt.datetime.combine(dt.date(2016, 1, 1), t).strftime("%I:%M:%S %p")


def _csv_files(folder: Path, corpus: Corpus, visits: _Visits, scale: int) -> None:
    for day in (dt.date(2016, 5, 3), dt.date(2016, 5, 4), dt.date(2016, 8, 10),
                dt.date(2016, 8, 11), dt.date(2016, 11, 21)):
        header = _CSV_HEADERS[0 if day.month < 6 else 1]
        name = f"visitas_{day.isoformat()}.csv"
        lines = [";".join(header)]
        for k in range(8 * scale):
            v = visits.visit(day)
            official, area, post = v["official"]
            document = _DOCUMENT_SPELLINGS[k % 4].format(n=v["document"])
            organisation = (f"Entidad privada - {v['organisation']}" if v["organisation"]
                            else "Persona natural - a titulo personal")
            exit_text = _twelve_hour(v["exit"]) if v["exit"] else ""
            cells = [f"{v['surnames']} {v['given']}", document, organisation,
                     _twelve_hour(v["entry"]), exit_text, f"{official} - {area} - {post}",
                     f"{v['motive']} - {v['detail']}", v["place"]]
            key = (name, k + 2)
            if k == 3:  # the exit before the entry
                cells[3], cells[4] = "03:10:00 PM", "09:05:00 AM"
                corpus.rejected[key] = ("exit-before-entry", "Hora Salida")
            else:
                corpus.valid[key] = _expected(
                    fecha_visita=day, hora_ingreso=v["entry"], hora_salida=v["exit"],
                    visitante_nombre=f"{v['surnames']} {v['given']}",
                    visitante_tipo_documento="DNI", visitante_numero_documento=v["document"],
                    visitante_tipo_entidad="Entidad privada" if v["organisation"]
                    else "Persona natural",
                    visitante_entidad=v["organisation"], funcionario_nombre=official,
                    funcionario_area=area, funcionario_cargo=post, motivo=v["motive"],
                    motivo_detalle=v["detail"], lugar=v["place"])
            lines.append(";".join(cells))
        path = folder / "2016" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
        corpus.files.append(path)


# --------------------------------------------------------------------------- json-2020


def _json2020_files(folder: Path, corpus: Corpus, visits: _Visits, scale: int) -> None:
    for week, start in enumerate((dt.date(2020, 2, 3), dt.date(2020, 2, 24),
                                  dt.date(2021, 8, 23)), 1):
        name = f"visitas-{start.year}-sem{week:02d}.json"
        records = []
        for k in range(10 * scale):
            day = start + dt.timedelta(days=k % 5)
            v = visits.visit(day)
            official, area, post = v["official"]
            surnames, given = v["surnames"], v["given"]
            kind = "DNI/LE" if k % 5 else "C.EXT."
            number = v["document"] if kind == "DNI/LE" else f"0{v['document']}"
            record = {
                "idVisita": 6_000_000 + visits.counter, "fila": k + 1,
                "empleado": official.replace(" ", ", ", 1) if k % 2 else official,
                "cargo": post, "centroCostoNombre": area,
                "motivo": "REUNION" if v["code"] == "REU" else "NORMAL",
                "fechaVisitaRecepcion": f"{day:%d/%m/%y} {v['entry']:%H:%M}",
                "entidadVisitanteNombreCompleto": f"{surnames}, {given}",
                "entidadVisitanteTipoDocumento": kind,
                "entidadVisitanteDocumento": number,
                "entidad": v["organisation"] or ("SIN INSTITUCION" if k % 3 else None),
                "ubicacion": f"PALACIO   :   {v['place']}",
                "fechaVisitaTermino": f"{v['exit']:%H:%M}" if v["exit"] else None,
                "edificio": "PALACIO",
            }
            key = (name, k + 1)
            if k == 4:  # 31 February
                record["fechaVisitaRecepcion"] = f"31/02/{day:%y} {v['entry']:%H:%M}"
                corpus.rejected[key] = ("date-format-mismatch", "fecha_visita")
            else:
                corpus.valid[key] = _expected(
                    fecha_visita=day, hora_ingreso=_minutes(v["entry"]),
                    hora_salida=_minutes(v["exit"]), visitante_nombre=f"{surnames} {given}",
                    visitante_tipo_documento="DNI" if kind == "DNI/LE" else "CE",
                    visitante_numero_documento=number, visitante_entidad=v["organisation"],
                    funcionario_nombre=official, funcionario_area=area, funcionario_cargo=post,
                    motivo="Reunión de trabajo" if v["code"] == "REU" else "Otros Motivos",
                    lugar=v["place"])
            records.append(record)
        path = folder / str(start.year) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"result": "200", "data": records}, ensure_ascii=False,
                                   indent=1), encoding="utf-8")
        corpus.files.append(path)


# --------------------------------------------------------------------------- json-2022


def _json2022_files(folder: Path, corpus: Corpus, visits: _Visits, scale: int) -> None:
    for month in (1, 6, 12):
        name = f"visitas-2022-{month:02d}.json"
        records = []
        for k in range(9 * scale):
            day = dt.date(2022, month, 1 + k % 20)
            v = visits.visit(day)
            official, area, post = v["official"]
            record = {
                "fecha": day.isoformat(),
                "hora": {"ingreso": f"{v['entry']:%H:%M}",
                         "salida": f"{v['exit']:%H:%M}" if v["exit"] else None},
                "visitante": {"nombre": f"{v['surnames']} {v['given']}",
                              "documento": {"tipo": "DNI", "numero": v["document"]},
                              "entidad": v["organisation"]},
                "funcionario": {"nombre": official, "area": area, "cargo": post},
                "motivo": {"categoria": v["motive"], "detalle": v["detail"]},
            }
            key = (name, k + 1)
            if k == 5:  # the official's name left out: only the area and the post
                record["funcionario"]["nombre"] = ""
                corpus.rejected[key] = ("missing-official", "Funcionario visitado")
            else:
                corpus.valid[key] = _expected(
                    fecha_visita=day, hora_ingreso=_minutes(v["entry"]),
                    hora_salida=_minutes(v["exit"]),
                    visitante_nombre=f"{v['surnames']} {v['given']}",
                    visitante_tipo_documento="DNI", visitante_numero_documento=v["document"],
                    visitante_tipo_entidad="Entidad privada" if v["organisation"] else None,
                    visitante_entidad=v["organisation"], funcionario_nombre=official,
                    funcionario_area=area, funcionario_cargo=post, motivo=v["motive"],
                    motivo_detalle=v["detail"])
            records.append(record)
        path = folder / "2022" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        corpus.files.append(path)


__all__ = ["ENTITY_YAML", "NAME", "RUC", "Corpus", "write_corpus"]

#!/usr/bin/env python
"""Generate the synthetic sample entities and visit uploads shipped in ``datasets/``.

Everything written is synthetic (no real visitor, official or document number) and follows the
domain facts of the design brief: the 12 published columns, ``DD/MM/AAAA`` dates with ISO and
2-digit-year variants, ``HH:MM`` and ``HH:MM:SS`` times, document strings of every known form,
``APELLIDOS NOMBRES - AREA - CARGO`` officials whose area may contain `` - ``, whitespace quirks,
a placeholder row for a day without visits, a formula-looking cell, deliberately invalid rows
and a later re-upload that fills in exit times.

Output (relative to ``--out``, the repository root by default)::

    datasets/entities/<RUC>.yaml          one per sample entity
    datasets/samples/<RUC>/visitas-*.csv|xlsx
    datasets/samples/<RUC>/decisores.csv  the entity's decision-makers register
    datasets/samples/MANIFEST.json        encodings, row counts, invalid/placeholder rows

The output depends only on ``--seed``: running the script twice gives identical files.

Example::

    python scripts/generate_samples.py                  # regenerate the committed samples
    python scripts/generate_samples.py --out /tmp/x     # write them elsewhere
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 2024

COLUMNS: tuple[str, ...] = (
    "Fecha de Registro",
    "Fecha de Visita",
    "Entidad visitada",
    "Visitante",
    "Documento del visitante",
    "Entidad del visitante",
    "Funcionario visitado",
    "Hora Ingreso",
    "Hora Salida",
    "Motivo",
    "Lugar específico",
    "Observación",
)
PLACEHOLDER_VISITOR = "No se recibieron visitas"
PERSONA_NATURAL = "Persona natural - a titulo personal"
FORMULA_CELL = '=HYPERLINK("http://x")'
XLSX_TIMESTAMP = datetime(2024, 10, 1, 8, 0, 0)
"""Fixed creation/modification time of the generated workbook (and of its zip entries)."""

NBSP = "\u00a0"

# --------------------------------------------------------------------------------------------
# Sample entities (synthetic RUCs: prefix 20, valid check digit, checked by the tests)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Official:
    """An official who receives visits; ``decision_maker`` may attend lobbying acts."""

    name: str
    area: str
    post: str
    decision_maker: bool = False

    def label(self) -> str:
        return f"{self.name} - {self.area} - {self.post}"


@dataclass(frozen=True)
class Entity:
    ruc: str
    name: str
    stage: str
    admin_name: str
    admin_email: str
    officials: tuple[Official, ...]
    places: tuple[str, ...]


MUNICIPALIDAD = Entity(
    ruc="20999100016",
    name="Municipalidad Distrital de Ejemplo Norte",
    stage="production",
    admin_name="Carmen Rosa Vílchez Ejemplo",
    admin_email="rvl@muniejemplonorte.gob.pe",
    officials=(
        Official("SALAZAR MONTOYA EDGAR RAÚL", "ALCALDÍA", "ALCALDE", True),
        Official("PAREDES LUNA GLADYS MARLENE", "GERENCIA MUNICIPAL", "GERENTE MUNICIPAL", True),
        Official(
            "CCORI HUAMANÍ VÍCTOR HUGO",
            "GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE OBRAS PRIVADAS",
            "SUBGERENTE",
            True,
        ),
        Official(
            "ESPINOZA DÍAZ KAREN MILAGROS",
            "GERENCIA DE ADMINISTRACIÓN Y FINANZAS - SUBGERENCIA DE LOGÍSTICA",
            "ESPECIALISTA EN CONTRATACIONES",
        ),
        Official("MORI TELLO LUIS ENRIQUE", "GERENCIA DE SERVICIOS A LA CIUDAD", "GERENTE", True),
        Official(
            "ARCE VIDAL WALTER IVÁN",
            "GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE CATASTRO - ÁREA DE HABILITACIONES",
            "ASISTENTE TÉCNICO",
        ),
    ),
    places=(
        "Despacho de Alcaldía",
        "Oficina 301",
        "Sala de reuniones",
        "Sala de reuniones 2",
        "Oficina 105",
        "Mesa de partes",
    ),
)

MINISTERIO = Entity(
    ruc="20999200029",
    name="Ministerio de Ejemplo",
    stage="production",
    admin_name="Julio César Ñaupari Ejemplo",
    admin_email="registro.visitas@minejemplo.gob.pe",
    officials=(
        Official("VALDIVIA ORTIZ CARLOS ALBERTO", "DESPACHO MINISTERIAL", "MINISTRO", True),
        Official(
            "ARÉVALO PINEDO MÓNICA ISABEL",
            "DESPACHO VICEMINISTERIAL DE GESTIÓN",
            "VICEMINISTRA",
            True,
        ),
        Official(
            "BENAVIDES CÁRDENAS LORENA PATRICIA",
            "DESPACHO VICEMINISTERIAL DE GESTIÓN - DIRECCIÓN GENERAL DE PRESUPUESTO",
            "DIRECTORA GENERAL",
            True,
        ),
        Official(
            "SOTO QUINTANA RAÚL ERNESTO",
            "SECRETARÍA GENERAL - OFICINA GENERAL DE ASESORÍA JURÍDICA",
            "JEFE DE OFICINA GENERAL",
            True,
        ),
        Official(
            "LAZO GUTIÉRREZ PEDRO PABLO",
            "SECRETARÍA GENERAL - OFICINA GENERAL DE ADMINISTRACIÓN - OFICINA DE ABASTECIMIENTO",
            "ESPECIALISTA",
        ),
        Official("HUERTA CAMPOS SOFÍA ALEJANDRA", "GABINETE DE ASESORES", "ASESORA"),
    ),
    places=(
        "Sala de reuniones del Despacho",
        "Oficina 701",
        "Sala Técnica 3",
        "Oficina 402",
        "Sala de reuniones",
    ),
)

GOBIERNO_REGIONAL = Entity(
    ruc="20999300031",
    name="Gobierno Regional de Ejemplo Sur",
    stage="demo",
    admin_name="Elsa Noemí Ticona Ejemplo",
    admin_email="visitas@regionejemplosur.gob.pe",
    officials=(
        Official(
            "CONDORI APAZA FÉLIX ROBERTO", "GOBERNACIÓN REGIONAL", "GOBERNADOR REGIONAL", True
        ),
        Official(
            "CHOQUEHUANCA RIVERA ANA LUCÍA",
            "GERENCIA GENERAL REGIONAL",
            "GERENTE GENERAL REGIONAL",
            True,
        ),
        Official(
            "PEÑA VILCA JORGE ANTONIO",
            "GERENCIA REGIONAL DE INFRAESTRUCTURA - SUBGERENCIA DE ESTUDIOS DEFINITIVOS",
            "SUBGERENTE",
            True,
        ),
        Official(
            "LLERENA ZEVALLOS MARCO ANTONIO",
            "GERENCIA REGIONAL DE DESARROLLO ECONÓMICO",
            "GERENTE REGIONAL",
            True,
        ),
        Official(
            "CHOQUE QUISPE ROSA AMELIA",
            "GERENCIA REGIONAL DE PLANEAMIENTO, PRESUPUESTO Y ACONDICIONAMIENTO TERRITORIAL"
            " - OFICINA DE PROGRAMACIÓN MULTIANUAL DE INVERSIONES",
            "JEFA DE OFICINA",
        ),
        Official(
            "ARANA SALAS HUGO",
            "OFICINA REGIONAL DE ADMINISTRACIÓN - OFICINA DE LOGÍSTICA",
            "ESPECIALISTA ADMINISTRATIVO",
        ),
    ),
    places=(
        "Despacho de Gobernación",
        "Oficina 204",
        "Sala de reuniones",
        "Auditorio",
        "Oficina 112",
    ),
)

ENTITIES: tuple[Entity, ...] = (MUNICIPALIDAD, MINISTERIO, GOBIERNO_REGIONAL)

# --------------------------------------------------------------------------------------------
# Vocabularies (synthetic)
# --------------------------------------------------------------------------------------------

SURNAMES = (
    "QUISPE", "MAMANI", "HUAMÁN", "FLORES", "RODRÍGUEZ", "SÁNCHEZ", "GARCÍA", "ROJAS", "TORRES",
    "CHÁVEZ", "RAMÍREZ", "MENDOZA", "VARGAS", "CASTRO", "GUTIÉRREZ", "ÑAHUI", "PEÑA", "IBÁÑEZ",
    "CÓNDOR", "HUAYTA", "YUPANQUI", "TICONA", "DE LA CRUZ", "DEL ÁGUILA", "ESPINOZA", "MEDINA",
    "LÓPEZ", "CCAHUANA", "AQUINO", "ZEGARRA", "NÚÑEZ", "MUÑOZ", "CUBA", "OCAÑA", "HERRERA",
    "SALAS", "VILLANUEVA", "PALOMINO", "CAHUANA", "LEÓN",
)  # fmt: skip
GIVEN_NAMES = (
    "JOSÉ LUIS", "MARÍA ELENA", "ROSA", "JUAN CARLOS", "CARMEN ROSA", "LUIS ALBERTO", "ANA MARÍA",
    "JORGE", "PATRICIA", "WILFREDO", "YESENIA", "EDUARDO", "ROCÍO DEL PILAR", "MIGUEL ÁNGEL",
    "LUZ MARINA", "CÉSAR AUGUSTO", "KATHERINE", "JHON", "MILAGROS", "FRANKLIN", "NELLY",
    "RICARDO", "GIOVANNA", "PERCY", "SONIA", "ÁNGEL", "ELMER", "JESÚS", "FIORELLA", "RUBÉN DARÍO",
)  # fmt: skip
FOREIGN_SURNAMES = (
    "GONZÁLEZ", "PÉREZ", "HERNÁNDEZ", "MÜLLER", "SILVA", "OLIVEIRA", "MARTÍNEZ", "BROWN",
)  # fmt: skip
FOREIGN_GIVEN_NAMES = ("CARLOS ANDRÉS", "MARÍA JOSÉ", "DANIELA", "JOHN", "ANNA", "LUCAS")

PRIVATE_ORGS = (
    "CONSTRUCTORA EJEMPLO ANDINO S.A.C.",
    "INVERSIONES DEL NORTE DE EJEMPLO S.A.C.",
    "CONSULTORES ASOCIADOS EJEMPLO S.A.C.",
    "SERVICIOS GENERALES LA MUESTRA S.A.C.",
    "TRANSPORTES Y LOGÍSTICA EJEMPLO S.A.C.",
    "INGENIERÍA & PROYECTOS EJEMPLO S.A.C.",
    "AGROEXPORTADORA VALLE DE EJEMPLO S.A.",
    "FERRETERÍA EL EJEMPLO E.I.R.L.",
    "ASOCIACIÓN CIVIL EJEMPLO VERDE",
)
PUBLIC_ORGS = (
    "MUNICIPALIDAD PROVINCIAL DE EJEMPLO",
    "CONTRALORÍA GENERAL DE LA REPÚBLICA",
    "MINISTERIO DE VIVIENDA, CONSTRUCCIÓN Y SANEAMIENTO",
    "SUPERINTENDENCIA NACIONAL DE BIENES ESTATALES",
    "PROGRAMA NACIONAL DE EJEMPLO RURAL",
    "UNIVERSIDAD NACIONAL DE EJEMPLO",
)

REUNION = "Reunión de trabajo"
GESTION = "Gestión de intereses"
OTROS = "Otros Motivos"
MOTIVE_DETAILS: dict[str, tuple[str, ...]] = {
    REUNION: (
        "Coordinación de proyecto de inversión",
        "Revisión de expediente técnico",
        "Seguimiento de convenio interinstitucional",
        "Coordinación de actividades conjuntas",
    ),
    GESTION: (
        "Presentación de propuesta de asociación público privada",
        "Propuesta de servicios de limpieza pública",
        "Solicitud de modificación de ordenanza",
        "Presentación de iniciativa privada",
    ),
    OTROS: (
        "Trámite documentario",
        "Consulta sobre expediente",
        "Entrega de documentos",
        "Solicitud de información",
        "Consulta sobre licencia de funcionamiento",
        "Seguimiento de trámite",
        "Audiencia solicitada por vecino",
    ),
}
OBSERVATIONS = (
    "Visita programada",
    "Ingresó con equipo portátil",
    "Acompañado de asesor legal",
    "Reprogramada desde el día anterior",
)

# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclass
class Person:
    paternal: str
    maternal: str
    given: str
    document: str
    foreign: bool = False


@dataclass
class Row:
    """One data row of an upload, before rendering to CSV text or XLSX cells."""

    fecha_registro: date | None
    fecha_visita: date | None
    entidad_visitada: str
    visitante: str
    documento: str
    entidad_visitante: str
    funcionario: str
    hora_ingreso: time | None
    hora_salida: time | None
    motivo: str
    lugar: str
    observacion: str = ""
    date_style: str = "dmy"  # dmy: DD/MM/AAAA, iso: AAAA-MM-DD, dmy2: DD/MM/AA
    seconds: bool = False
    raw: dict[str, str] = field(default_factory=dict)
    """Verbatim cell text that replaces the rendered value (e.g. an impossible date)."""
    invalid: tuple[str, str] | None = None
    """(field, reason) when the row is deliberately invalid."""
    placeholder: bool = False
    formula: bool = False
    category: str = ""
    person: Person | None = None

    def sort_key(self) -> tuple[date, time]:
        day = self.fecha_visita or self.fecha_registro or date.min
        return day, self.hora_ingreso or time(0, 0)

    def dedupe_key(self) -> tuple[str, str, str]:
        return (
            " ".join(self.documento.split()),
            str(self.fecha_visita),
            f"{self.hora_ingreso:%H:%M}" if self.hora_ingreso else "",
        )


def strip_accents(text: str) -> str:
    """Remove acute accents and diaeresis, keeping Ñ (as many legacy systems type names)."""
    out = []
    for char in text:
        if char in "Ññ":
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFD", char)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))


def _dni(rng: random.Random, leading_zero: bool = False) -> str:
    first = "0" if leading_zero else rng.choice("1234567")
    return first + _digits(rng, 7)


DOC_KINDS = ("DNI", "DNI0", "CE", "PASAPORTE", "CEX", "PSP", "DNI/LE", "BARE", "BARE0")


def make_document(rng: random.Random, kind: str) -> str:
    """Render a visitor document in one of the forms seen in the wild."""
    if kind == "DNI":
        return f"DNI {_dni(rng)}"
    if kind == "DNI0":
        return f"DNI {_dni(rng, leading_zero=True)}"
    if kind == "CE":
        return f"CE 00{_digits(rng, 7)}"
    if kind == "PASAPORTE":
        return f"PASAPORTE {_letters(rng, 2)}{_digits(rng, 6)}"
    if kind == "CEX":
        return f"CEX : 00{_digits(rng, 7)}"
    if kind == "PSP":
        return f"PSP : {_letters(rng, 2)}{_digits(rng, 7)}"
    if kind == "DNI/LE":
        return f"DNI/LE {_dni(rng)}"
    if kind == "BARE":
        return _dni(rng)
    if kind == "BARE0":
        return _dni(rng, leading_zero=True)
    raise ValueError(f"Tipo de documento desconocido: {kind}")


def make_person(rng: random.Random, kind: str) -> Person:
    foreign = kind in {"CE", "PASAPORTE", "CEX", "PSP"}
    surnames = FOREIGN_SURNAMES if foreign else SURNAMES
    given_names = FOREIGN_GIVEN_NAMES if foreign else GIVEN_NAMES
    paternal, maternal = rng.sample(surnames, 2)
    person = Person(paternal, maternal, rng.choice(given_names), make_document(rng, kind), foreign)
    if not foreign and rng.random() < 0.4:  # typed without accents by the front desk
        person.paternal, person.maternal, person.given = (
            strip_accents(person.paternal),
            strip_accents(person.maternal),
            strip_accents(person.given),
        )
    return person


def render_name(person: Person, quirks: Iterable[str]) -> str:
    """Render ``APELLIDO APELLIDO NOMBRES`` with the requested quirks applied."""
    quirks = set(quirks)
    surnames = f"{person.paternal} {person.maternal}"
    if "comma_space" in quirks:
        name = f"{surnames} , {person.given}"
    elif "comma" in quirks:
        name = f"{surnames}, {person.given}"
    else:
        name = f"{surnames} {person.given}"
    if "double" in quirks:
        name = name.replace(" ", "  ", 1)
    if "nbsp" in quirks:
        head, _, tail = name.rpartition(" ")
        name = f"{head}{NBSP}{tail}"
    if "trailing" in quirks:
        name += " "
    return name


def quota(total: int, counts: dict[str, int], rest: str, rng: random.Random) -> list[str]:
    """A shuffled list of ``total`` labels with exactly ``counts`` of each, ``rest`` elsewhere."""
    labels = [label for label, n in counts.items() for _ in range(n)]
    if len(labels) > total:
        raise ValueError("Las cuotas superan el total de filas")
    labels += [rest] * (total - len(labels))
    rng.shuffle(labels)
    return labels


def working_days(year: int, month: int, holidays: Sequence[int]) -> list[date]:
    day = date(year, month, 1)
    days = []
    while day.month == month:
        if day.weekday() < 5 and day.day not in holidays:
            days.append(day)
        day += timedelta(days=1)
    return days


def _clock(minutes: int, second: int = 0) -> time:
    return time(minutes // 60, minutes % 60, second)


@dataclass(frozen=True)
class Plan:
    """How many rows of each kind one upload has."""

    year: int
    month: int
    holidays: tuple[int, ...]
    regular: int
    documents: dict[str, int]
    seconds_share: float
    blank_exits: int
    names_with: dict[str, int]
    date_styles: dict[str, int] = field(default_factory=dict)


def regular_rows(entity: Entity, plan: Plan, rng: random.Random, days: list[date]) -> list[Row]:
    """Valid visits of one month: motives ~3/4 "Otros Motivos", a group meeting, repeats."""
    n = plan.regular
    n_gestion = max(3, round(n * 0.10))
    n_otros = round(n * 0.75)
    categories = quota(n, {GESTION: n_gestion, OTROS: n_otros}, REUNION, rng)
    kinds = quota(n, plan.documents, "DNI", rng)
    deciders = [o for o in entity.officials if o.decision_maker]

    rows: list[Row] = []
    for category, kind in zip(categories, kinds, strict=True):
        person = make_person(rng, kind)
        official = rng.choice(deciders if category == GESTION else entity.officials)
        if category == GESTION:
            visitor_org = f"Entidad privada - {rng.choice(PRIVATE_ORGS)}"
        elif category == REUNION:
            orgs = PUBLIC_ORGS if rng.random() < 0.6 else PRIVATE_ORGS
            kind_label = "Entidad pública" if orgs is PUBLIC_ORGS else "Entidad privada"
            visitor_org = f"{kind_label} - {rng.choice(orgs)}"
        else:
            draw = rng.random()
            if draw < 0.7:
                visitor_org = PERSONA_NATURAL
            elif draw < 0.9:
                visitor_org = f"Entidad privada - {rng.choice(PRIVATE_ORGS)}"
            else:
                visitor_org = f"Entidad pública - {rng.choice(PUBLIC_ORGS)}"
        details = MOTIVE_DETAILS[category]
        motivo = category if rng.random() < 0.1 else f"{category} - {rng.choice(details)}"
        visit_day = rng.choice(days)
        registered = visit_day + timedelta(days=1 if rng.random() < 0.15 else 0)
        seconds = rng.random() < plan.seconds_share
        start = rng.randrange(8 * 60, 16 * 60 + 31)
        length = rng.choice((10, 15, 20, 30, 40, 45, 60, 75, 90, 120)) + rng.randrange(0, 5)
        entry = _clock(start, rng.randrange(60) if seconds else 0)
        leave = _clock(start + length, rng.randrange(60) if seconds else 0)
        observation = rng.choice(OBSERVATIONS) if rng.random() < 0.1 else ""
        rows.append(
            Row(
                fecha_registro=registered,
                fecha_visita=visit_day,
                entidad_visitada=entity.name,
                visitante="",
                documento=person.document,
                entidad_visitante=visitor_org,
                funcionario=official.label(),
                hora_ingreso=entry,
                hora_salida=leave,
                motivo=motivo,
                lugar=rng.choice(entity.places),
                observacion=observation,
                seconds=seconds,
                category=category,
                person=person,
            )
        )

    # One group meeting: three visitors of the same organisation, same official and time.
    meeting = [r for r in rows if r.category == REUNION][:3]
    for other in meeting[1:]:
        for attr in (
            "fecha_registro",
            "fecha_visita",
            "entidad_visitante",
            "funcionario",
            "hora_ingreso",
            "hora_salida",
            "motivo",
            "lugar",
            "seconds",
        ):
            setattr(other, attr, getattr(meeting[0], attr))

    # Repeat visitors: the same person (same document) comes back another day.
    locals_ = [r for r in rows if r.category == OTROS and r.documento.startswith("DNI ")]
    used: set[int] = set()
    for position, source in enumerate(locals_):
        if len(used) == 6:
            break
        if id(source) in used:
            continue
        target = next(
            (
                t
                for t in locals_[position + 1 :]
                if id(t) not in used and t.fecha_visita != source.fecha_visita
            ),
            None,
        )
        if target is None:
            continue
        used |= {id(source), id(target)}
        target.person = source.person
        target.documento = source.documento
        target.entidad_visitante = source.entidad_visitante

    # Visitor names with whitespace and format quirks (each quirk on distinct rows).
    quirk_rows = rng.sample(range(n), sum(plan.names_with.values()))
    assigned: dict[int, str] = {}
    cursor = 0
    for quirk, count in plan.names_with.items():
        for index in quirk_rows[cursor : cursor + count]:
            assigned[index] = quirk
        cursor += count
    for index, row in enumerate(rows):
        assert row.person is not None
        row.visitante = render_name(row.person, [assigned[index]] if index in assigned else [])

    # Date styles other than DD/MM/AAAA.
    style_rows = rng.sample(range(n), sum(plan.date_styles.values()))
    cursor = 0
    for style, count in plan.date_styles.items():
        for index in style_rows[cursor : cursor + count]:
            rows[index].date_style = style
        cursor += count
    return rows


def blank_some_exits(rows: list[Row], count: int, rng: random.Random) -> list[Row]:
    """Blank the exit time of ``count`` rows (not of the group meeting), returning them."""
    candidates = [r for r in rows if r.category != REUNION and r.hora_salida is not None]
    chosen = rng.sample(candidates, count)
    for row in chosen:
        row.hora_salida = None
    return chosen


def _fmt_date(day: date | None, style: str) -> str:
    if day is None:
        return ""
    if style == "iso":
        return day.isoformat()
    if style == "dmy2":
        return day.strftime("%d/%m/%y")
    return day.strftime("%d/%m/%Y")


def _fmt_time(moment: time | None, seconds: bool) -> str:
    if moment is None:
        return ""
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def as_text(row: Row) -> list[str]:
    values = {
        "Fecha de Registro": _fmt_date(row.fecha_registro, row.date_style),
        "Fecha de Visita": _fmt_date(row.fecha_visita, row.date_style),
        "Entidad visitada": row.entidad_visitada,
        "Visitante": row.visitante,
        "Documento del visitante": row.documento,
        "Entidad del visitante": row.entidad_visitante,
        "Funcionario visitado": row.funcionario,
        "Hora Ingreso": _fmt_time(row.hora_ingreso, row.seconds),
        "Hora Salida": _fmt_time(row.hora_salida, row.seconds),
        "Motivo": row.motivo,
        "Lugar específico": row.lugar,
        "Observación": row.observacion,
    }
    values.update(row.raw)
    return [values[column] for column in COLUMNS]


def as_cells(row: Row) -> list[object]:
    """Native XLSX values: dates and times as Excel date/time cells, blanks as empty cells."""
    if row.raw:
        raise ValueError("Las filas XLSX no admiten valores literales")
    values: list[object] = [
        row.fecha_registro,
        row.fecha_visita,
        row.entidad_visitada,
        row.visitante,
        row.documento,
        row.entidad_visitante,
        row.funcionario,
        row.hora_ingreso,
        row.hora_salida,
        row.motivo,
        row.lugar,
        row.observacion,
    ]
    return [None if value == "" else value for value in values]


def check_unique_visits(rows: Iterable[Row], where: str) -> None:
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        if row.placeholder or row.invalid:
            continue
        key = row.dedupe_key()
        if key in seen:
            raise AssertionError(f"Visita duplicada en {where}: {key}")
        seen.add(key)


# --------------------------------------------------------------------------------------------
# The three uploads
# --------------------------------------------------------------------------------------------


def municipalidad_rows(rng: random.Random) -> list[Row]:
    """August 2024 CSV: a placeholder day, a formula-looking cell and two invalid rows."""
    entity = MUNICIPALIDAD
    plan = Plan(
        year=2024,
        month=8,
        holidays=(6, 30),  # Batalla de Junín, Santa Rosa de Lima
        regular=37,
        documents={
            "DNI0": 2,
            "CE": 2,
            "PASAPORTE": 1,
            "CEX": 1,
            "PSP": 1,
            "DNI/LE": 2,
            "BARE": 2,
            "BARE0": 1,
        },
        seconds_share=0.15,
        blank_exits=2,
        names_with={"comma": 3, "double": 2, "nbsp": 2, "trailing": 2},
    )
    days = working_days(plan.year, plan.month, plan.holidays)
    empty_day = days.pop(rng.randrange(3, len(days) - 3))
    rows = regular_rows(entity, plan, rng, days)
    blank_some_exits(rows, plan.blank_exits, rng)

    formula = next(r for r in rows if r.category == OTROS and not r.observacion)
    formula.observacion = FORMULA_CELL
    formula.formula = True

    rows.append(
        Row(
            fecha_registro=empty_day,
            fecha_visita=empty_day,
            entidad_visitada="",
            visitante=PLACEHOLDER_VISITOR,
            documento="",
            entidad_visitante="",
            funcionario="",
            hora_ingreso=None,
            hora_salida=None,
            motivo="",
            lugar="",
            placeholder=True,
        )
    )

    no_name = invalid_base(entity, rng, days, "DNI")
    no_name.visitante = ""
    no_name.invalid = ("Visitante", "Visitante vacío: el nombre del visitante es obligatorio.")
    rows.append(no_name)

    backwards = invalid_base(entity, rng, days, "DNI")
    backwards.hora_ingreso, backwards.hora_salida = time(15, 40), time(11, 5)
    backwards.invalid = (
        "Hora Salida",
        "Hora Salida (11:05) anterior a la Hora Ingreso (15:40).",
    )
    rows.append(backwards)
    return rows


def invalid_base(entity: Entity, rng: random.Random, days: list[date], kind: str) -> Row:
    """An otherwise valid visit, to be broken in exactly one field."""
    person = make_person(rng, kind)
    day = rng.choice(days)
    visit = Row(
        fecha_registro=day,
        fecha_visita=day,
        entidad_visitada=entity.name,
        visitante=render_name(person, []),
        documento=person.document,
        entidad_visitante=PERSONA_NATURAL,
        funcionario=rng.choice(entity.officials).label(),
        hora_ingreso=time(rng.randrange(9, 16), rng.randrange(0, 60, 5)),
        hora_salida=None,
        motivo=f"{OTROS} - {rng.choice(MOTIVE_DETAILS[OTROS])}",
        lugar=rng.choice(entity.places),
        category=OTROS,
        person=person,
    )
    assert visit.hora_ingreso is not None
    entry = visit.hora_ingreso.hour * 60 + visit.hora_ingreso.minute
    visit.hora_salida = _clock(entry + rng.choice((15, 25, 40, 55)))
    return visit


def ministerio_rows(rng: random.Random) -> list[Row]:
    """September 2024 XLSX: all rows valid, native date and time cells."""
    plan = Plan(
        year=2024,
        month=9,
        holidays=(),
        regular=40,
        documents={"DNI0": 3, "CE": 3, "PASAPORTE": 2},
        seconds_share=0.2,
        blank_exits=2,
        names_with={"comma": 2, "double": 2, "nbsp": 1, "trailing": 2},
    )
    days = working_days(plan.year, plan.month, plan.holidays)
    rows = regular_rows(MINISTERIO, plan, rng, days)
    blank_some_exits(rows, plan.blank_exits, rng)
    return rows


def gobierno_regional_rows(rng: random.Random) -> tuple[list[Row], list[Row]]:
    """October 2024 CSV (cp1252) with two invalid rows, and a re-upload filling 5 exit times."""
    entity = GOBIERNO_REGIONAL
    plan = Plan(
        year=2024,
        month=10,
        holidays=(8,),  # Combate de Angamos
        regular=38,
        documents={
            "DNI0": 2,
            "CE": 1,
            "PASAPORTE": 1,
            "CEX": 2,
            "PSP": 1,
            "DNI/LE": 3,
            "BARE": 1,
            "BARE0": 1,
        },
        seconds_share=0.25,
        blank_exits=2,
        names_with={"comma": 2, "comma_space": 1, "double": 2, "nbsp": 2, "trailing": 2},
        date_styles={"iso": 4, "dmy2": 4},
    )
    days = working_days(plan.year, plan.month, plan.holidays)
    rows = regular_rows(entity, plan, rng, days)
    never_filled = {id(r) for r in blank_some_exits(rows, plan.blank_exits, rng)}
    candidates = [r for r in rows if id(r) not in never_filled]
    filled_later = blank_some_exits(candidates, 5, rng)

    # A trailing space after the organisation name, as some front desks type it.
    padded = next(r for r in rows if r.entidad_visitante.startswith("Entidad privada"))
    padded.entidad_visitante += " "

    bad_date = invalid_base(entity, rng, days, "DNI")
    bad_date.fecha_visita = None
    bad_date.fecha_registro = date(2024, 10, 21)
    bad_date.raw = {"Fecha de Visita": "31/02/2024"}
    bad_date.invalid = (
        "Fecha de Visita",
        "Fecha de Visita inválida: 31/02/2024 no existe (febrero no tiene 31 días).",
    )
    rows.append(bad_date)

    no_official = invalid_base(entity, rng, days, "DNI/LE")
    no_official.funcionario = ""
    no_official.invalid = (
        "Funcionario visitado",
        "Funcionario visitado vacío: el funcionario visitado es obligatorio.",
    )
    rows.append(no_official)

    reupload: list[Row] = []
    for row in sorted(filled_later, key=Row.sort_key):
        assert row.hora_ingreso is not None
        start = row.hora_ingreso.hour * 60 + row.hora_ingreso.minute
        leave = _clock(
            start + rng.choice((20, 35, 50, 65)), rng.randrange(60) if row.seconds else 0
        )
        copy = Row(**{**row.__dict__, "hora_salida": leave, "raw": dict(row.raw)})
        reupload.append(copy)
    return rows, reupload


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


def csv_bytes(rows: Sequence[Row], delimiter: str, encoding: str, newline: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(as_text(row))
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Row], title: str) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Visitas"
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    sheet.append(list(COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(as_cells(row))
        excel_row = sheet.max_row
        for column in (1, 2):
            sheet.cell(row=excel_row, column=column).number_format = "DD/MM/YYYY"
        for column in (8, 9):
            sheet.cell(row=excel_row, column=column).number_format = (
                "hh:mm:ss" if row.seconds else "hh:mm"
            )
    for letter, width in zip(
        "ABCDEFGHIJKL", (12, 12, 24, 36, 20, 44, 70, 9, 9, 50, 24, 24), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    workbook.properties.creator = "Registro de Visitas en Línea (muestra sintética)"
    workbook.properties.title = title
    workbook.properties.created = XLSX_TIMESTAMP
    workbook.properties.modified = XLSX_TIMESTAMP
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _freeze_zip(buffer.getvalue())


def _freeze_zip(data: bytes) -> bytes:
    """Rewrite an XLSX with fixed entry timestamps and modification date (openpyxl uses now)."""
    stamp = XLSX_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    payload,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=XLSX_TIMESTAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, payload)
    return out.getvalue()


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def entity_yaml(entity: Entity) -> str:
    return (
        "# Entidad de ejemplo (sintética), generada por scripts/generate_samples.py.\n"
        f"ruc: {_q(entity.ruc)}\n"
        f"name: {_q(entity.name)}\n"
        f"stage: {entity.stage}\n"
        "source:\n"
        "  kind: files\n"
        "administrator:\n"
        f"  name: {_q(entity.admin_name)}\n"
        f"  email: {_q(entity.admin_email)}\n"
    )


@dataclass
class Upload:
    entity: Entity
    file: str
    rows: list[Row]
    fmt: str
    encoding: str | None = None
    delimiter: str | None = None
    newline: str | None = None
    title: str | None = None
    reuploads: list[tuple[int, str, int]] = field(default_factory=list)

    @property
    def header_row(self) -> int:
        return 2 if self.title else 1

    def content(self) -> bytes:
        if self.fmt == "xlsx":
            assert self.title is not None
            return xlsx_bytes(self.rows, self.title)
        assert self.delimiter and self.encoding and self.newline
        return csv_bytes(self.rows, self.delimiter, self.encoding, self.newline)

    def physical_row(self, index: int) -> int:
        return self.header_row + 1 + index

    def manifest(self) -> dict[str, object]:
        invalid = [
            {"row": self.physical_row(i), "field": r.invalid[0], "reason": r.invalid[1]}
            for i, r in enumerate(self.rows)
            if r.invalid
        ]
        placeholders = [self.physical_row(i) for i, r in enumerate(self.rows) if r.placeholder]
        return {
            "ruc": self.entity.ruc,
            "file": self.file,
            "path": f"{self.entity.ruc}/{self.file}",
            "format": self.fmt,
            "encoding": self.encoding,
            "bom": self.encoding == "utf-8-sig",
            "delimiter": self.delimiter,
            "line_terminator": {"\r\n": "CRLF", "\n": "LF", None: None}[self.newline],
            "title_row": 1 if self.title else None,
            "title": self.title,
            "header_row": self.header_row,
            "first_data_row": self.header_row + 1,
            "data_rows": len(self.rows),
            "valid_rows": len(self.rows) - len(invalid) - len(placeholders),
            "invalid_rows": invalid,
            "placeholder_rows": placeholders,
            "formula_rows": [self.physical_row(i) for i, r in enumerate(self.rows) if r.formula],
            "blank_exit_rows": [
                self.physical_row(i)
                for i, r in enumerate(self.rows)
                if not (r.placeholder or r.invalid) and r.hora_salida is None
            ],
            "reuploads": [
                {
                    "row": row,
                    "same_visit_as": {"file": file, "row": original},
                    "fills": ["Hora Salida"],
                }
                for row, file, original in self.reuploads
            ],
        }


def build_uploads(seed: int) -> list[Upload]:
    muni = sorted(municipalidad_rows(random.Random(seed * 10 + 1)), key=Row.sort_key)
    mini = sorted(ministerio_rows(random.Random(seed * 10 + 2)), key=Row.sort_key)
    region, reupload = gobierno_regional_rows(random.Random(seed * 10 + 3))
    region.sort(key=Row.sort_key)

    first = Upload(GOBIERNO_REGIONAL, "visitas-2024-10.csv", region, "csv", "cp1252", ",", "\r\n")
    second = Upload(GOBIERNO_REGIONAL, "visitas-2024-10-b.csv", reupload, "csv", "utf-8", ",", "\n")
    original_index = {id(r): i for i, r in enumerate(region)}
    by_key = {r.dedupe_key(): r for r in region}
    for index, copy in enumerate(reupload):
        original = by_key[copy.dedupe_key()]
        second.reuploads.append(
            (
                second.physical_row(index),
                first.file,
                first.physical_row(original_index[id(original)]),
            )
        )

    uploads = [
        Upload(MUNICIPALIDAD, "visitas-2024-08.csv", muni, "csv", "utf-8-sig", ";", "\r\n"),
        Upload(
            MINISTERIO,
            "visitas-2024-09.xlsx",
            mini,
            "xlsx",
            title="Registro de visitas - Septiembre 2024",
        ),
        first,
        second,
    ]
    for upload in uploads[:3]:
        check_unique_visits(upload.rows, upload.file)
    return uploads


def write(out: Path, relative: str, content: bytes) -> None:
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


#: since when the sample decision-makers hold their posts (before every sample visit)
REGISTER_SINCE = "01/01/2023"


def register_csv(entity: Entity) -> bytes:
    """The entity's decision-makers register: its officials who may attend lobbying acts,
    in office since `REGISTER_SINCE`, as an administrator would write it (`Hasta` blank)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Nombre", "Cargo", "Área", "Desde", "Hasta"])
    writer.writerows([o.name, o.post, o.area, REGISTER_SINCE, ""]
                     for o in entity.officials if o.decision_maker)
    return out.getvalue().encode("utf-8")


def generate(out: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write every sample file under ``out`` and return their paths."""
    written: list[str] = []
    for entity in ENTITIES:
        relative = f"datasets/entities/{entity.ruc}.yaml"
        write(out, relative, entity_yaml(entity).encode("utf-8"))
        written.append(relative)
    uploads = build_uploads(seed)
    for upload in uploads:
        relative = f"datasets/samples/{upload.entity.ruc}/{upload.file}"
        write(out, relative, upload.content())
        written.append(relative)
    for entity in ENTITIES:
        relative = f"datasets/samples/{entity.ruc}/decisores.csv"
        write(out, relative, register_csv(entity))
        written.append(relative)
    manifest = {
        "description": (
            "Muestras sintéticas del Registro de Visitas en Línea generadas por "
            "scripts/generate_samples.py. Las filas se numeran como en el archivo: la fila de "
            "cabecera es la 1 (la 2 en el XLSX, cuya fila 1 es el título)."
        ),
        "seed": seed,
        "columns": list(COLUMNS),
        "placeholder_visitor": PLACEHOLDER_VISITOR,
        "files": [upload.manifest() for upload in uploads],
    }
    relative = "datasets/samples/MANIFEST.json"
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    write(out, relative, text.encode("utf-8"))
    written.append(relative)
    return [out / r for r in written]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Genera las entidades y cargas de ejemplo (sintéticas) de datasets/.",
        epilog="Ejemplo: python scripts/generate_samples.py --out /tmp/muestras",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"semilla del generador (por defecto {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT,
        help="raíz donde escribir datasets/ (por defecto, la raíz del repositorio)",
    )
    args = parser.parse_args(argv)
    for path in generate(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

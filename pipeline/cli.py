"""The `visitas` command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline import cli_spanish, faults
from pipeline.registry import (
    Entity,
    RegistryError,
    entity_file_text,
    load_registry,
    parse_entity,
)
from pipeline.settings import Settings
from pipeline.spanish import plural

if TYPE_CHECKING:
    from pipeline.validation.rejected import RejectedRows
    from pipeline.validation.report import Report

cli_spanish.install()  # before the decorators below read click's texts

# -- operational faults: a few Spanish lines and an exit code, the traceback only with --debug

_STEP = "visitas.step"
_DEBUG = "visitas.debug"
#: the step each command is in until it says otherwise (`run` follows its headings)
_COMMAND_STEPS = {"run": "Preparación", "validate": "Validación", "withdraw": "Retiro",
                  "entity": "Registro de entidades", "releases": "Versiones publicadas",
                  "serve": "Dagster", "access": "Acceso por entidad",
                  "backfill": "Carga histórica"}


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Name the step under way; an exception inside is reported as a fault of that step."""
    meta = click.get_current_context().meta
    before = meta.get(_STEP)
    meta[_STEP] = name
    yield
    # restored only on success: after an exception the step it happened in is the one told
    meta[_STEP] = before


def _step_echo(line: str) -> None:
    """Echo a line of `run_full_pass`; its headings (unindented) name the step under way."""
    if line and not line[0].isspace():
        click.get_current_context().meta[_STEP] = line.split(" (", 1)[0]
    click.echo(line)


class _Unregistered(click.ClickException):
    """An argument names an entity that is not registered: a usage mistake, not a bad file
    (`visitas validate` keeps 1 and 2 for an invalid and an unreadable file)."""

    exit_code = faults.EXIT_USAGE

    def __init__(self, ruc: str, todo: str) -> None:
        super().__init__(f"La entidad {ruc} no está registrada. {todo}")


def _settings() -> Settings:
    with _step("Configuración"):
        return Settings.from_env()


class _Command(click.Command):
    """A command whose usage line is in Spanish too."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("options_metavar", "[OPCIONES]")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class _Group(click.Group):
    command_class = _Command

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("options_metavar", "[OPCIONES]")
        kwargs.setdefault("subcommand_metavar", "COMANDO [ARGUMENTOS]...")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


_Group.group_class = _Group


class _Visitas(_Group):
    """The `visitas` group: an operational fault (see `pipeline.faults`) ends the command with
    a short Spanish message naming the step and what to do, and its documented exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            fault = faults.describe(exc)
            if fault is None:
                raise  # a bug: its traceback is what helps
            if ctx.meta.get(_DEBUG):
                traceback.print_exc()
            sub = ctx.invoked_subcommand or ""
            step = ctx.meta.get(_STEP) or _COMMAND_STEPS.get(sub, "visitas")
            again = f"visitas --debug {sub}{' …' if sub in ('entity', 'releases', 'access') else ''}"
            click.echo(f"✘ {step}: {fault.what}\n  {fault.todo}\n"
                       f"  (Detalle técnico: {again}; código de salida {fault.code}.)", err=True)
            ctx.exit(fault.code)


@click.group(cls=_Visitas)
@click.version_option(package_name="visitas-pipeline")
@click.option("--debug", is_flag=True,
              help="Ante un error de operación (credenciales, configuración, permisos), "
                   "mostrar también la traza completa.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Registro de Visitas en Línea: de los registros de cada entidad a datos abiertos.

    Sin configuración usa el entorno local: las entidades de ejemplo de datasets/, archivos de
    trabajo en var/ y el árbol publicado en var/publish/.

    Un error de operación (credenciales rechazadas, una variable mal definida, una carpeta
    sin permisos, otra pasada en curso) se informa en pocas líneas, con el paso que falló y
    qué hacer, y termina con un código de salida propio (vea el README); --debug muestra
    además la traza.
    """
    ctx.meta[_DEBUG] = debug


def _wait_option(fn):
    return click.option(
        "--esperar", "wait", type=click.IntRange(min=0), default=None, metavar="SEGUNDOS",
        help="Si otro proceso está escribiendo lo mismo (los lotes de una entidad, el almacén, "
             "el árbol publicado), esperar hasta estos segundos a que termine antes de desistir "
             "con el código 75 (por defecto VISITAS_LOCK_WAIT, o 600; 0: no esperar).")(fn)


def _with_wait(settings: Settings, wait: int | None) -> Settings:
    return settings if wait is None else dataclasses.replace(settings, lock_wait_seconds=wait)


def _release_on_sigterm() -> None:
    """End on SIGTERM (a scheduler stopping the command) as on Ctrl-C: through every
    `finally`, so the locks it holds are released and its temporary files removed."""
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


@main.command()
@click.option("--samples/--no-samples", default=None,
              help="Copiar las cargas de ejemplo a la zona de aterrizaje antes de procesar "
                   "(por defecto solo en el entorno local).")
@click.option("--entity", "rucs", multiple=True, metavar="RUC",
              help="Ingerir solo las cargas de esta entidad (se puede repetir); la "
                   "consolidación y la publicación abarcan todas, como en una pasada completa.")
@_wait_option
def run(samples: bool | None, rucs: tuple[str, ...], wait: int | None) -> None:
    """Una pasada completa: ingerir, validar, consolidar y publicar.

    Una visita publicada solo sale del conjunto con un retiro explícito: si la nueva versión
    dejara fuera, sin retiro, más de release.max_withdrawn_share de las visitas publicadas de
    una entidad (datasets/visitas.yaml), no se publica y latest/ sigue sirviendo la anterior.

    Sale con 0 si todo se leyó y publicó (o no hubo cambios), 3 si no se publicó por una falla
    (versión rechazada o ninguna fuente se pudo leer) y 4 si alguna fuente falló (se conservan
    sus visitas publicadas y las demás entidades se publican).

    Una sola pasada escribe a la vez cada cosa (los lotes de una entidad, el almacén, el árbol
    publicado): otra pasada en curso se espera hasta --esperar segundos y, si no termina, esta
    desiste con el código 75 y dice quién escribe y desde cuándo.

    Ejemplos:

    \b
        visitas run

    \b
        visitas run --entity 20999100016

    \b
        visitas run --esperar 0

    \b
        VISITAS_ENV=production VISITAS_PUBLISH_URL=s3://datos/visitas visitas run
    """
    from pipeline import preflight
    from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
    from pipeline.publication import public_url

    _release_on_sigterm()
    settings = _with_wait(_settings(), wait)
    with _step("Configuración"):
        public_url.check(settings)  # refused outside local before any work; warned at publication
        preflight.check(settings)  # before any work: a pass that cannot publish does not start
        included = included_entities(settings, [])
        unknown = [r for r in rucs if r not in {e.ruc for e in included}]
        if unknown:
            raise click.UsageError(_not_included(settings, unknown))
    chosen = [e for e in included if not rucs or e.ruc in rucs]
    if samples if samples is not None else settings.environment == "local":
        copied = seed_sample_uploads(settings, chosen)
        if copied:
            click.echo(f"Cargas de ejemplo copiadas a {settings.landing_url}: {copied}")
    outcome = run_full_pass(settings, echo=_step_echo, only=set(rucs) or None)
    _record_in_dagster(settings, outcome)
    failed = [e for e in outcome.entities if e.error]
    rejected = sum(1 for e in outcome.entities for b in e.new_batches if b.status == "rejected")
    click.echo(f"Resumen: {plural(len(outcome.entities), 'entidad', 'entidades')}, "
               f"{len(failed)} con fuente caída, "
               f"{plural(rejected, 'lote rechazado', 'lotes rechazados')}; "
               f"{outcome.published_where()}")
    sys.exit(outcome.exit_code)


def _record_in_dagster(settings: Settings, outcome: object) -> None:
    """The pass in Dagster's asset history (see `pipeline.assets.cli_history`); the data is
    already published, so a failure here is only told."""
    from pipeline.assets.cli_history import record_pass

    try:
        record_pass(settings, outcome)  # type: ignore[arg-type]
    except Exception as exc:
        click.echo(f"  aviso: la pasada no quedó anotada en el historial de Dagster "
                   f"({settings.dagster_home}): {exc}", err=True)


def _not_included(settings: Settings, rucs: list[str]) -> str:
    from pipeline.flow import not_included

    return "; ".join(not_included(settings, r) for r in rucs) + ". Vea 'visitas entity list'."


@main.command()
@click.argument("file", metavar="ARCHIVO", type=click.Path(path_type=Path))
@click.option("--entity", "ruc", metavar="RUC",
              help="RUC de la entidad que carga el archivo (se verifica que esté registrada).")
@click.option("--schema", "schema_path", type=click.Path(path_type=Path),
              help="Validar el CSV contra este Table Schema (JSON) en lugar del formato de carga; "
                   "solo las reglas del esquema, sin las reglas del registro.")
@click.option("--json", "as_json", is_flag=True, help="Imprimir el reporte JSON (forma Frictionless).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Escribir además un reporte HTML autocontenido para el administrador.")
@click.option("--rechazadas", "rejected_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Escribir las filas con errores en este CSV, con las columnas y los valores "
                   "de la carga y una columna «Errores de validación», para corregirlas y "
                   "volver a subirlas.")
@click.option("--limit-errors", type=int, default=None,
              help="Máximo de errores detallados en el reporte (los conteos incluyen todos).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Fecha de referencia para 'fecha en el futuro' (por defecto, hoy).")
def validate(file: Path, ruc: str | None, schema_path: Path | None, as_json: bool,
             html_path: Path | None, rejected_path: Path | None, limit_errors: int | None,
             today: dt.datetime | None) -> None:
    """Validar una carga como lo haría el entorno demo, sin publicar nada.

    Con --entity se aplica además la correspondencia de la entidad (source.mapping o
    source.layouts de su registro): sirve para probar un archivo de su historial antes de
    cargarlo con visitas backfill.

    Sale con 0 si es válida, 1 si tiene errores (también un encabezado sin las columnas
    obligatorias o un archivo de otra entidad), 2 si no se puede leer como tabla (el
    archivo o, con --schema, el esquema) y 64 si --entity no es una entidad registrada.

    Ejemplos:

    \b
        visitas validate visitas-2024-08.csv --entity 20999100016

    \b
        visitas validate visitas-2024-08.csv --html reporte.html --rechazadas rechazadas.csv

    \b
        visitas validate datos.csv --schema esquema.json --json

    Un archivo cuyo nombre empieza por «decisores» se valida como registro de decisores de la
    entidad (columnas Nombre, Cargo, Área, Desde, Hasta), como lo haría la ingesta:

    \b
        visitas validate decisores-2025.csv --entity 20999100016
    """
    from pipeline.ingestion.decision_makers import is_register_file
    from pipeline.input_files import UnreadableInput, readable_file
    from pipeline.validation.upload import upload_schemas, validate_file

    readable_file(file, "El archivo")
    if schema_path is not None:
        from pipeline.validation.schema import SchemaError, load_schema
        from pipeline.validation.tabular import validate_table

        if rejected_path is not None:
            raise click.UsageError("--rechazadas es para cargas de visitas, no con --schema.")
        try:
            schema = load_schema(readable_file(schema_path, "El esquema").resolve())
        except SchemaError as exc:
            raise UnreadableInput(str(exc)) from exc
        report = validate_table(file, schema, error_limit=limit_errors, place=str(file))
        written = None
    else:
        settings = _settings()
        entity = None
        if ruc is not None:
            entity = next((e for e in load_registry(settings.entities_dir) if e.ruc == ruc), None)
            if entity is None:
                raise _Unregistered(ruc, "Regístrela con 'visitas entity add' o revise el RUC "
                                         "con 'visitas entity list'.")
        if is_register_file(file.name):
            if rejected_path is not None:
                raise click.UsageError("--rechazadas es para cargas de visitas: un registro de "
                                       "decisores se acepta o se rechaza entero.")
            report = _validate_register(settings, file, entity, limit_errors)
            written = None
        else:
            with _rejected_rows(settings, rejected_path) as sink:
                report = validate_file(file, file.name, upload_schemas(settings.schemas_dir),
                                       entity=entity, today=today.date() if today else None,
                                       error_limit=limit_errors,
                                       max_bytes=settings.max_upload_bytes, sink=sink,
                                       mapping=entity.mapping if entity else None)
                written = _write_rejected(report, sink, rejected_path)
    if html_path is not None:
        import os

        from pipeline.validation.html import render_html

        href = None
        if written is not None and rejected_path is not None:
            href = Path(os.path.relpath(rejected_path.resolve(), html_path.resolve().parent)
                        ).as_posix()
        html_path.write_text(render_html(report, rejected_href=href), encoding="utf-8")
    click.echo(report.to_json() if as_json else report.summary_es())
    if rejected_path is not None and not as_json:
        click.echo(f"Filas rechazadas, para corregir y volver a subir: {rejected_path} "
                   f"({plural(written, 'fila', 'filas')})" if written is not None else
                   "No se escribe el archivo de filas rechazadas: el archivo entero debe "
                   "corregirse.")
    sys.exit(report.exit_code)


def _validate_register(settings: Settings, file: Path, entity: Entity | None,
                       limit_errors: int | None) -> Report:
    """A decision-makers register checked as ingestion would; with the entity, the report
    says which register would stay in force (the one in force in the entity's environment)."""
    from pipeline.ingestion.decision_makers import (
        fallback_text,
        register_in_force,
        register_schema,
        validate_register,
    )
    from pipeline.settings import in_environment
    from pipeline.storage.base import sha256_file

    fallback = "" if entity is None else fallback_text(
        register_in_force(in_environment(settings, entity.stage), entity.ruc))
    report, _ = validate_register(file, file.name, register_schema(settings.schemas_dir),
                                  sha256=sha256_file(file), fallback=fallback,
                                  error_limit=limit_errors)
    return report


@contextmanager
def _rejected_rows(settings: Settings, path: Path | None) -> Iterator[RejectedRows | None]:
    """A sink keeping the rejected rows in a temporary folder, when they are asked for."""
    if path is None:
        yield None
        return
    from pipeline import workdir
    from pipeline.validation.rejected import RejectedRows

    with workdir.temporary_dir(settings.temp_dir, "rechazadas") as folder:
        sink = RejectedRows(folder / "rechazadas.parquet")
        try:
            yield sink
        finally:
            sink.close()


def _write_rejected(report: Report, sink: RejectedRows | None, path: Path | None
                    ) -> int | None:
    """Rows written to the CSV of rejected rows; None when the file is rejected whole (its
    header, its entity, or unreadable): then there are no rows to correct one by one."""
    if path is None or sink is None or not report.readable:
        return None
    from pipeline.validation.rejected import write_csv

    sink.close()
    return write_csv(report, sink.path, path)


@main.command()
@click.argument("ruc")
@click.argument("paths", nargs=-1, required=True, metavar="RUTA...",
                type=click.Path(exists=True, path_type=Path))
@click.option("--procesos", "workers", type=click.IntRange(min=1), default=None,
              metavar="N", help="Archivos procesados a la vez, cada uno en su proceso (por "
                                "defecto, uno por núcleo).")
@click.option("--json", "as_json", is_flag=True,
              help="Imprimir el reporte final en JSON (archivos, filas y errores por formato).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Fecha de referencia para 'fecha en el futuro' (por defecto, hoy).")
@_wait_option
def backfill(ruc: str, paths: tuple[Path, ...], workers: int | None, as_json: bool,
             today: dt.datetime | None, wait: int | None) -> None:
    """Cargar el historial de una entidad: carpetas o archivos exportados de su sistema.

    Cada archivo (CSV, XLSX, XLS, ODS y, si la entidad declara una correspondencia, páginas
    HTML y JSON) se lee con la correspondencia de la entidad (source.mapping o
    source.layouts en su archivo de registro; vea docs/fuentes.md) y queda como un lote, igual
    que una carga: archivado tal como es, validado, con sus filas rechazadas en cuarentena y su
    procedencia (ruta original). La próxima pasada (visitas run) los consolida y publica.

    Usa todos los núcleos. Se puede interrumpir y repetir: lo ya cargado no se vuelve a
    procesar ni se duplica. Termina con un reporte por formato: archivos y filas aceptadas y
    rechazadas, y por qué. Sale con 0 si todos los archivos se cargaron (aunque tengan filas
    rechazadas), 1 si alguno se rechazó entero o no se pudo procesar, 64 si la entidad no
    está registrada y 75 si otro proceso escribe los lotes de la entidad.

    Ejemplos:

    \b
        visitas backfill 20131370645 historial/

    \b
        visitas backfill 20131370645 2015/ 2016/visitas-enero.html --procesos 2 --json
    """
    import json

    from pipeline.flow import included_entities
    from pipeline.ingestion.backfill import backfill as run_backfill

    _release_on_sigterm()
    settings = _with_wait(_settings(), wait)
    with _step("Configuración"):
        entity = next((e for e in included_entities(settings, []) if e.ruc == ruc), None)
    if entity is None:
        if any(e.ruc == ruc for e in load_registry(settings.entities_dir, [])):
            raise click.UsageError(_not_included(settings, [ruc]))  # demo-stage in production
        raise _Unregistered(ruc, "Regístrela con 'visitas entity add' o revise el RUC con "
                                 "'visitas entity list'.")
    outcome = run_backfill(settings, entity, list(paths), workers=workers,
                           today=today.date() if today else None,
                           echo=None if as_json else click.echo)
    click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2) if as_json
               else outcome.report_es())
    sys.exit(outcome.exit_code)


@main.command()
@click.argument("ruc")
@click.argument("ids", nargs=-1, required=True, metavar="ID_VISITA...")
@click.option("--motivo", required=True, help="Por qué se retiran las visitas (queda en el historial).")
def withdraw(ruc: str, ids: tuple[str, ...], motivo: str) -> None:
    """Retirar visitas publicadas de una entidad, de forma explícita y auditada.

    Deja en la zona de aterrizaje de la entidad un archivo retiros-<fecha>.csv (id_visita,
    motivo); la próxima pasada lo archiva como cualquier carga, quita esas visitas del
    conjunto publicado y anota el retiro en el historial. También puede subirse a mano un
    archivo retiros-*.csv, .xlsx o .xls con las columnas documento, fecha_visita,
    hora_ingreso y motivo.

    Solo se registran las visitas de la entidad aún no retiradas: repetir un retiro no
    escribe nada, y un id_visita que no es de ninguna visita de la entidad se informa y sale
    con 1.

    Ejemplo:

    \b
        visitas withdraw 20999300031 f6bdf2d0f21f3900 --motivo "Registro duplicado"
    """
    import csv
    import io
    import re

    from pipeline.storage import open_storage

    settings = _settings()
    if ruc not in {e.ruc for e in load_registry(settings.entities_dir)}:
        raise _Unregistered(ruc, "Revise el RUC con 'visitas entity list'.")
    bad = [i for i in ids if not re.fullmatch(r"[0-9a-f]{16}", i)]
    if bad:
        raise click.ClickException(
            f"Identificador no válido: {', '.join(bad)}. Use el id_visita publicado (16 caracteres hexadecimales).")
    if not motivo.strip():
        raise click.ClickException("El motivo no puede estar vacío.")
    from pipeline.ingestion.withdrawals import visit_states

    ids = tuple(dict.fromkeys(ids))  # an id named twice is withdrawn once
    states = visit_states(settings, ruc, list(ids))
    done = [i for i in ids if states[i] == "withdrawn"]
    unknown = [i for i in ids if states[i] == "unknown"]
    ids = tuple(i for i in ids if states[i] == "visit")
    if done:
        click.echo(f"{'Ya retirada' if len(done) == 1 else 'Ya retiradas'} (o con un retiro "
                   f"pendiente en la zona de aterrizaje), no se vuelve a registrar: "
                   f"{', '.join(done)}.")
    if unknown:
        click.echo(f"Ninguna visita de la entidad {ruc} tiene "
                   f"{'el identificador' if len(unknown) == 1 else 'los identificadores'} "
                   f"{', '.join(unknown)}; no se registra.", err=True)
    if not ids:
        click.echo("No se escribió ningún archivo de retiro.")
        sys.exit(1 if unknown else 0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id_visita", "motivo"])
    writer.writerows([i, motivo.strip()] for i in ids)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{ruc}/retiros-{stamp}.csv"
    landing = open_storage(settings.landing_url, base_dir=settings.root)
    landing.write_bytes(key, buffer.getvalue().encode("utf-8"), content_type="text/csv",
                        if_absent=True)
    click.echo(f"Retiro de {plural(len(ids), 'visita', 'visitas')} registrado en "
               f"{landing.locate(key)}; se aplicará en la próxima pasada ('visitas run').")
    if unknown:
        sys.exit(1)


def _registered(settings: Settings, ruc: str) -> Entity:
    found = next((e for e in load_registry(settings.entities_dir, []) if e.ruc == ruc), None)
    if found is None:
        raise click.ClickException(f"La entidad {ruc} no está registrada. Revise el RUC con "
                                   "'visitas entity list'.")
    return found


@main.command()
@click.argument("ruc")
@click.option("--json", "as_json", is_flag=True, help="Imprimir los lotes como JSON (batch.json).")
def batches(ruc: str, as_json: bool) -> None:
    """Listar los lotes de una entidad: cuándo se ingirió cada archivo, su estado y sus filas.

    Los registros de decisores (decisores*) figuran como aceptados o rechazados; el que rige
    ahora, como vigente.

    Ejemplo:

    \b
        visitas batches 20999100016
    """
    import json

    from pipeline.ingestion.decision_makers import register_in_force
    from pipeline.ingestion.inspection import entity_batches

    settings = _settings()
    found = _registered(settings, ruc)
    listed = entity_batches(settings, ruc)
    if as_json:
        click.echo(json.dumps([b.record for b in listed], ensure_ascii=False, indent=2))
        return
    click.echo(f"{found.ruc} {found.name}: {plural(len(listed), 'lote', 'lotes')}")
    if not listed:
        click.echo(f"  Aún no hay lotes: las cargas van en {settings.landing_url}/{ruc}/ y se "
                   "ingieren con 'visitas run'.")
        return
    in_force = register_in_force(settings, ruc)
    width = max(len(b.record["archivo"]) for b in listed)
    click.echo(f"  {'ingestado (Lima)':<16}  {'archivo':<{width}}  {'sha256':<12}  "
               f"{'estado':<10}  {'filas':>7}  {'válidas':>7}  {'rechazadas':>10}")
    for b in listed:
        r = b.record
        # of the register's accepted versions, the one in force says so
        status = "vigente" if in_force and b.sha256 == in_force.sha256 else b.status
        click.echo(f"  {b.ingested:<16}  {r['archivo']:<{width}}  {b.sha256[:12]}  "
                   f"{status:<10}  {r.get('rows', 0):>7}  {r.get('filas_validas', 0):>7}  "
                   f"{r.get('filas_rechazadas', 0):>10}")
    if in_force is not None:
        click.echo(f"Registro de decisores vigente: {in_force.name} "
                   f"({plural(len(in_force.members), 'decisor', 'decisores')}).")
    click.echo(f"Filas rechazadas de un lote y por qué: 'visitas quarantine {ruc} <archivo o "
               "sha256>'.")


@main.command()
@click.argument("ruc")
@click.argument("batch", metavar="LOTE")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Escribir además las filas rechazadas, tal como se cargaron y con sus "
                   "motivos, en este CSV (para corregirlas y volver a cargarlas).")
@click.option("--json", "as_json", is_flag=True, help="Imprimir las filas como JSON.")
def quarantine(ruc: str, batch: str, csv_path: Path | None, as_json: bool) -> None:
    """Mostrar las filas rechazadas de un lote y por qué. El lote se indica por el nombre del
    archivo o por el comienzo de su sha256 (vea 'visitas batches').

    Ejemplos:

    \b
        visitas quarantine 20999100016 visitas-2024-08.csv

    \b
        visitas quarantine 20999100016 0ccbe812d0f5 --csv rechazadas.csv
    """
    import csv
    import json

    from pipeline.ingestion.inspection import BatchNotFound, find_batch, quarantined_rows

    settings = _settings()
    _registered(settings, ruc)
    try:
        found = find_batch(settings, ruc, batch)
    except BatchNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    rows = quarantined_rows(found)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif found.record.get("tipo") == "decisores":
        # a register is taken whole: its report, which names every error (also those of its
        # header, which no row carries) and what stays in force, says it best
        click.echo((found.folder / "informe.txt").read_text(encoding="utf-8").rstrip("\n"))
    else:
        click.echo(f"{found.record['archivo']} ({found.sha256[:12]}, {found.status}): "
                   f"{plural(len(rows), 'fila rechazada', 'filas rechazadas')}")
        for row in rows:
            for reason in row["motivos"]:
                click.echo(f"  {reason}" if reason.startswith("Fila ")
                           else f"  Fila {row['fila']}: {reason}")
    if csv_path is not None:
        columns = list(rows[0]["celdas"]) if rows else []
        with csv_path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["fila", *columns, "motivos"])
            for row in rows:
                writer.writerow([row["fila"], *(row["celdas"].get(c) for c in columns),
                                 " | ".join(row["motivos"])])
        click.echo(f"Filas rechazadas escritas en {csv_path}.")


@main.group()
def entity() -> None:
    """Registro de entidades: alta, listado y paso de demo a producción."""


@entity.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Imprimir una lista de objetos con las claves ruc, nombre, etapa, "
                   "ultima_carga, ultima_publicacion y filas_rechazadas.")
def entity_list(as_json: bool) -> None:
    """Listar las entidades registradas: su etapa, su última carga, su última publicación y
    las filas rechazadas de su última carga.

    Cada entidad se mira en el entorno de su etapa (demo o producción), se ejecute en el
    entorno que se ejecute: la última carga es la hora de ingesta de su lote de visitas más
    reciente y la última publicación, la hora de la versión publicada más reciente con filas
    suyas.

    Ejemplos:

    \b
        visitas entity list

    \b
        visitas entity list --json
    """
    import json

    from pipeline.entity_status import entity_statuses
    from pipeline.ingestion.inspection import LIMA

    settings = _settings()
    statuses = entity_statuses(settings, load_registry(settings.entities_dir))
    if as_json:
        click.echo(json.dumps([s.to_json() for s in statuses], ensure_ascii=False, indent=2))
        return

    def lima(moment: str | None) -> str:
        if moment is None:
            return "-"
        return dt.datetime.fromisoformat(moment).astimezone(LIMA).strftime("%Y-%m-%d %H:%M")

    click.echo(f"{'RUC':<11}  {'etapa':<10}  {'última carga':<16}  {'última publicación':<18}  "
               f"{'rechazadas':>10}  nombre")
    for s in statuses:
        stage = "producción" if s.etapa == "production" else s.etapa
        rejected = "-" if s.filas_rechazadas is None else str(s.filas_rechazadas)
        click.echo(f"{s.ruc:<11}  {stage:<10}  {lima(s.ultima_carga):<16}  "
                   f"{lima(s.ultima_publicacion):<18}  {rejected:>10}  {s.nombre}")
    click.echo("Horas de Lima; rechazadas: filas rechazadas de la última carga.")


@entity.command("add")
@click.option("--ruc", required=True, metavar="RUC",
              help="RUC de la entidad (11 dígitos, con dígito verificador).")
@click.option("--name", required=True, metavar="NOMBRE", help="Nombre oficial de la entidad.")
@click.option("--admin-name", required=True, metavar="NOMBRE",
              help="Nombre del administrador del registro.")
@click.option("--admin-email", required=True, metavar="CORREO",
              help="Correo del administrador.")
def entity_add(ruc: str, name: str, admin_name: str, admin_email: str) -> None:
    """Registrar una entidad nueva: crea datasets/entities/<RUC>.yaml y su carpeta en la zona
    de aterrizaje. Toda entidad empieza en demo; pasa a producción con 'visitas entity
    promote'.

    Ejemplo:

    \b
        visitas entity add --ruc 20131370645 --name "Ministerio de Economía y Finanzas" \\
            --admin-name "Ana Pérez" --admin-email aperez@mef.gob.pe
    """
    from pipeline.storage import open_storage
    from pipeline.storage.local import LocalStorage

    settings = _settings()
    path = settings.entities_dir / f"{ruc}.yaml"
    if path.exists():
        raise click.ClickException(f"La entidad {ruc} ya está registrada en {path}.")
    try:
        new = parse_entity({"ruc": ruc, "name": name, "stage": "demo", "source": {"kind": "files"},
                            "administrator": {"name": admin_name, "email": admin_email}},
                           "entidad")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entity_file_text(new), encoding="utf-8")
    landing = open_storage(settings.landing_url, base_dir=settings.root)
    if isinstance(landing, LocalStorage):
        landing.path(ruc).mkdir(parents=True, exist_ok=True)  # S3 has no folders to create
    click.echo(f"Entidad {ruc} registrada en {path} (etapa demo). "
               f"Sus cargas van en {landing.locate(ruc)}/.")


@entity.command("promote")
@click.argument("ruc")
@click.option("--json", "as_json", is_flag=True,
              help="Imprimir el resultado como JSON (promovida, motivo, lote_demo).")
def entity_promote(ruc: str, as_json: bool) -> None:
    """Pasar una entidad de demo a producción, solo si su última carga en el entorno demo
    existe y no tiene errores.

    Si aún no cargó nada en demo, o su última carga allí tiene errores, no cambia nada, dice
    qué lo impide (el archivo, sus errores por tipo y la ruta del reporte) y sale con 1. La
    promoción queda anotada en el historial de la entidad (history en su archivo de
    datasets/entities/), con el lote de demo en que se apoyó.

    Ejemplos:

    \b
        visitas entity promote 20999300031

    \b
        visitas entity promote 20999300031 --json
    """
    import json

    from pipeline.promotion import Blocked, NotRegistered, Promotion, promote

    settings = _settings()
    try:
        outcome = promote(settings, ruc)
    except NotRegistered as exc:
        raise _Unregistered(ruc, "Revise el RUC con 'visitas entity list'.") from exc
    if as_json:
        click.echo(json.dumps(outcome.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(outcome.message(), nl=False)
    if isinstance(outcome, Blocked):
        sys.exit(1)
    if isinstance(outcome, Promotion) and settings.smtp_url:
        from pipeline.notifications.administrators import notify_promotion

        b = outcome.batch
        # the administrator is told; with --json the notice goes to stderr, the JSON stays whole
        notify_promotion(settings, outcome.entity,
                         {"archivo": b.file, "ingestado_en": b.ingested_at,
                          "filas_validas": b.rows - b.rejected_rows},
                         when=dt.datetime.fromisoformat(outcome.at.replace("Z", "+00:00")),
                         echo=lambda line: click.echo(line, err=as_json))


@entity.command("history")
@click.argument("ruc")
@click.option("--json", "as_json", is_flag=True,
              help="Imprimir los eventos como JSON (evento, en, lote_demo).")
def entity_history(ruc: str, as_json: bool) -> None:
    """Mostrar el historial de una entidad: cuándo pasó a producción y sobre qué carga de
    demo (archivo, sha256 y hora de ingesta).

    Ejemplo:

    \b
        visitas entity history 20999300031
    """
    import json

    from pipeline.entity_history import history_json, history_lines

    settings = _settings()
    path = settings.entities_dir / f"{ruc}.yaml"
    if not path.is_file():
        raise _Unregistered(ruc, "Revise el RUC con 'visitas entity list'.")
    from pipeline.registry import load_entity

    found = load_entity(path)
    if as_json:
        click.echo(json.dumps(history_json(found), ensure_ascii=False, indent=2))
        return
    click.echo(f"{found.ruc} {found.name}: "
               f"{plural(len(found.history), 'evento', 'eventos')} en {path}")
    for line in history_lines(found):
        click.echo(f"  {line}")


@main.group()
def releases() -> None:
    """Versiones publicadas: listado y depuración de las antiguas."""


@releases.command("list")
def releases_list() -> None:
    """Listar las versiones publicadas (la que sirve latest/ va marcada con *).

    Ejemplo:

    \b
        visitas releases list
    """
    from pipeline.publication.publisher import complete_releases, load_manifest, served_release
    from pipeline.storage import open_storage

    settings = _settings()
    storage = open_storage(settings.publish_url, base_dir=settings.root)
    served = served_release(storage)
    for rid in complete_releases(storage):
        m = load_manifest(storage, rid)
        mark = "*" if served is not None and served.id == rid else " "
        # columns stay aligned whether the noun is singular or plural
        rows = "fila " if m.rows == 1 else "filas"
        files = "archivo " if len(m.files) == 1 else "archivos"
        click.echo(f"{mark} {rid}  {m.rows:>10} {rows}  {len(m.files):>4} {files}  "
                   f"anterior: {m.previous or '-'}")


@releases.command("prune")
@click.option("--keep", "keep_last", type=int, default=None,
              help="Cuántas versiones recientes conservar (por defecto, keep_last del dataset).")
@click.option("--unfinished-hours", type=click.IntRange(min=0), default=24, show_default=True,
              help="Borrar las versiones inconclusas (sin release.json) iniciadas hace más de "
                   "estas horas; una más reciente puede estar publicándose.")
@click.option("--dry-run", is_flag=True, help="Mostrar qué se borraría, sin borrar nada.")
@_wait_option
def releases_prune(keep_last: int | None, unfinished_hours: int, dry_run: bool,
                   wait: int | None) -> None:
    """Borrar versiones antiguas: conserva las últimas N, la más reciente de cada mes y la que
    sirve latest/. Borra también las versiones inconclusas (sin release.json) que dejó una
    publicación interrumpida.

    Ejemplo:

    \b
        visitas releases prune --keep 10 --dry-run
    """
    from pipeline import locks
    from pipeline.publication import leftovers
    from pipeline.publication.dataset import load_dataset
    from pipeline.publication.months import ReleaseSpec
    from pipeline.publication.retention import prune
    from pipeline.storage import open_storage

    _release_on_sigterm()
    settings = _with_wait(_settings(), wait)
    if keep_last is None:
        keep_last = ReleaseSpec.of(load_dataset(settings.datasets_dir, "visitas")).keep_last
    storage = open_storage(settings.publish_url, base_dir=settings.root)
    # the published tree's one writer: no publisher is halfway through a release meanwhile
    with locks.hold(locks.published_tree(settings, storage), settings.lock_wait_seconds):
        result = prune(storage, keep_last, dry_run=dry_run,
                       unfinished_age=dt.timedelta(hours=unfinished_hours))
        # Then the unfinished release of a publisher that was killed, whatever its age (nobody
        # is writing it), and scratch files; after prune, which reports a release whose only
        # files were scratch before this removes them.
        cleared = leftovers.clear(settings, storage, dry_run=dry_run)
    verb = "Se borrarían" if dry_run else "Borradas"
    click.echo(f"Conservadas: {', '.join(result.keep) or 'ninguna'}")
    click.echo(f"{verb}: {', '.join(result.remove) or 'ninguna'}")
    unfinished = sorted({*cleared.releases, *result.unfinished})
    if unfinished:
        click.echo(f"Inconclusas (sin release.json) {'que se borrarían' if dry_run else 'borradas'}"
                   f": {', '.join(unfinished)}")
    recent = [r for r in result.recent_unfinished if r not in cleared.releases]
    if recent:
        click.echo(f"Inconclusas recientes, no se tocan (podrían estar publicándose; se borran "
                   f"pasadas {plural(unfinished_hours, 'hora', 'horas')}): {', '.join(recent)}")


@main.group()
def access() -> None:
    """Acceso por entidad al almacenamiento S3: cada administrador escribe solo en su carpeta
    de la zona de aterrizaje y lee solo sus reportes de validación.

    Las credenciales se derivan de una clave maestra, VISITAS_ACCESS_MASTER_KEY (al menos 32
    caracteres, guardada fuera del repositorio): la misma clave da siempre las mismas
    credenciales, y cambiarla las cambia todas.
    """


def _access_entity(settings: Settings, ruc: str) -> Entity:
    found = next((e for e in load_registry(settings.entities_dir, []) if e.ruc == ruc), None)
    if found is None:
        raise _Unregistered(ruc, "Revise el RUC con 'visitas entity list'.")
    return found


@access.command("credentials")
@click.argument("ruc")
@click.option("--json", "as_json", is_flag=True,
              help="Imprimir un objeto JSON con access_key_id y secret_access_key.")
def access_credentials(ruc: str, as_json: bool) -> None:
    """Mostrar la clave de acceso y el secreto S3 de una entidad, para entregarlos a su
    administrador por un canal seguro.

    Ejemplos:

    \b
        visitas access credentials 20999100016

    \b
        visitas access credentials 20999100016 --json
    """
    import json

    from pipeline.access.keys import entity_keys, master_key
    from pipeline.access.scopes import NotOnS3Error, entity_scope

    settings = _settings()
    found = _access_entity(settings, ruc)
    with _step("Configuración"):
        keys = entity_keys(master_key(), ruc)
    if as_json:
        click.echo(json.dumps({"access_key_id": keys.access_key_id,
                               "secret_access_key": keys.secret_access_key}, indent=2))
        return
    click.echo(f"Credenciales S3 de {found.ruc} {found.name}:")
    click.echo(f"  AWS_ACCESS_KEY_ID={keys.access_key_id}")
    click.echo(f"  AWS_SECRET_ACCESS_KEY={keys.secret_access_key}")
    try:
        scope = entity_scope(settings, ruc)
    except NotOnS3Error:
        click.echo("La zona de aterrizaje o los reportes no están en S3 en este entorno "
                   "(VISITAS_LANDING_URL, VISITAS_REPORTS_URL): estas credenciales sirven "
                   "cuando lo estén.")
        return
    click.echo(f"Con ellas sube sus cargas a {scope.landing.url(ruc)} y lee sus reportes en "
               f"{scope.reports.url(ruc)}.")


@access.command("seaweedfs-config")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="ARCHIVO", help="Dónde escribir el archivo de identidades (JSON).")
def access_seaweedfs_config(out: Path) -> None:
    """Escribir el archivo de identidades de un servidor S3 de SeaweedFS (weed s3 -config,
    weed server -s3.config): una identidad por entidad del entorno, limitada a su carpeta de
    carga y a sus reportes, y la de la propia pasada (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY) con todos los permisos. El archivo contiene secretos: se escribe
    legible solo por su dueño. En production solo entran las entidades en producción:
    vuelva a generarlo tras cada alta o promoción y reinicie el servidor S3.

    Ejemplo:

    \b
        VISITAS_LANDING_URL=s3://visitas/carga VISITAS_REPORTS_URL=s3://visitas/reportes \\
            visitas access seaweedfs-config --out /etc/seaweedfs/s3.json
    """
    from pipeline.access.keys import master_key
    from pipeline.access.scopes import entity_scope
    from pipeline.access.seaweedfs import identities, pipeline_keys, write_config
    from pipeline.registry import entities_for

    settings = _settings()
    with _step("Configuración"):
        master = master_key()
        pipeline = pipeline_keys()
        entities = entities_for(settings.environment, load_registry(settings.entities_dir))
        scopes = [entity_scope(settings, e.ruc) for e in entities]
    write_config(out, identities(master, scopes, pipeline))
    click.echo(f"Identidades de SeaweedFS escritas en {out}: la pasada y "
               f"{plural(len(scopes), 'entidad', 'entidades')}.")


@access.command("aws-policy")
@click.argument("ruc")
def access_aws_policy(ruc: str) -> None:
    """Imprimir la política IAM de AWS equivalente para una entidad: subir a su carpeta de
    carga (s3:PutObject), leer sus reportes (s3:GetObject) y listar solo esas carpetas
    (s3:ListBucket con condición s3:prefix). Nada más.

    Ejemplo:

    \b
        VISITAS_LANDING_URL=s3://visitas/carga VISITAS_REPORTS_URL=s3://visitas/reportes \\
            visitas access aws-policy 20999100016 > politica.json
    """
    import json

    from pipeline.access.aws import entity_policy
    from pipeline.access.scopes import entity_scope

    settings = _settings()
    _access_entity(settings, ruc)
    with _step("Configuración"):
        policy = entity_policy(entity_scope(settings, ruc))
    click.echo(json.dumps(policy, indent=2))


@main.command()
@click.option("--port", default=3000, show_default=True, help="Puerto de la interfaz web.")
def serve(port: int) -> None:
    """Abrir la interfaz de Dagster y su daemon sobre workspace.yaml, con la instancia de
    dagster.yaml (en <VISITAS_VAR_DIR>/dagster/): una carga nueva se ingiere, consolida y
    publica sola. Ctrl-C o SIGTERM detienen todos los procesos que inició.

    En demo y production, con VISITAS_DAGSTER_PG_URL definida, la instancia guarda sus
    ejecuciones y eventos en esa base PostgreSQL (una por entorno); si no, en SQLite dentro de
    la carpeta de la instancia.

    Ejemplos:

    \b
        visitas serve --port 3000

    \b
        VISITAS_ENV=demo VISITAS_DAGSTER_PG_URL=postgresql://dagster:clave@127.0.0.1:5432/dagster_demo visitas serve
    """
    from pipeline.serve import serve as run_dagster

    raise SystemExit(run_dagster(_settings(), port))



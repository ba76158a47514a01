"""Error types: Frictionless's own, plus the domain rules of the register.

Each type has a Spanish title, a message template with named slots, and a hint on how to fix
it, for the entity's administrator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.spanish import plural


@dataclass(frozen=True)
class ErrorType:
    type: str
    title: str
    template: str
    fix: str
    scope: str = "row"  # 'row' (rejects the row), 'label' or 'table' (rejects the batch)


ERROR_TYPES: dict[str, ErrorType] = {e.type: e for e in [
    # --- whole-file problems (Frictionless types)
    ErrorType("source-error", "Archivo ilegible",
              "No se pudo leer el archivo: {note}",
              "Revise que el archivo no esté vacío ni dañado y vuelva a subirlo.", "table"),
    ErrorType("format-error", "Formato no válido",
              "El archivo no tiene un formato legible: {note}",
              "Suba un .csv (UTF-8), o un .xlsx o .xls guardado desde Excel.", "table"),
    ErrorType("encoding-error", "Codificación no válida",
              "El archivo no se pudo decodificar: {note}",
              "Guarde el archivo como 'CSV UTF-8'.", "table"),
    ErrorType("wrong-entity", "Archivo de otra entidad",
              "{note}",
              "Suba el archivo en la carpeta de la entidad a la que pertenece, o corrija la "
              "columna entidad_ruc.", "table"),
    # --- header problems
    ErrorType("missing-label", "Falta una columna",
              "Falta la columna obligatoria «{fieldName}» en el encabezado.",
              "Agregue la columna con exactamente ese nombre, en la fila de encabezados.", "label"),
    ErrorType("extra-label", "Columna no reconocida",
              "La columna «{cell}» (columna {fieldNumber}) no pertenece al formato.",
              "Elimine la columna o renómbrela con uno de los nombres del formato.", "label"),
    ErrorType("duplicate-label", "Columna repetida",
              "La columna «{cell}» aparece más de una vez (columna {fieldNumber}).",
              "Deje una sola columna con ese nombre.", "label"),
    ErrorType("incorrect-label", "Columna con otro nombre",
              "La columna {fieldNumber} se llama «{cell}» pero debería llamarse «{fieldName}».",
              "Renombre la columna como indica el formato, o ponga las columnas en su orden.", "label"),
    ErrorType("blank-label", "Columna sin nombre",
              "La columna {fieldNumber} no tiene nombre en el encabezado.",
              "Escriba el nombre de la columna o elimínela si está vacía.", "label"),
    # --- row problems (Frictionless types)
    ErrorType("blank-row", "Fila vacía",
              "La fila {rowNumber} está vacía.",
              "Elimine la fila vacía."),
    ErrorType("extra-cell", "Celdas de más",
              "La fila {rowNumber} tiene más celdas que columnas el encabezado.",
              "Revise separadores (; o ,) y comillas en esa fila."),
    ErrorType("missing-cell", "Faltan celdas",
              "La fila {rowNumber} no tiene la celda de «{fieldName}» (tiene menos celdas que "
              "el encabezado).",
              "Revise separadores (; o ,) y comillas en esa fila."),
    ErrorType("type-error", "Tipo de dato no válido",
              "Fila {rowNumber}, «{fieldName}»: el valor «{cell}» no es {detail}.",
              "Corrija el valor con el formato indicado en la descripción de la columna."),
    ErrorType("constraint-error", "Valor no permitido",
              "Fila {rowNumber}, «{fieldName}»: {detail}.",
              "Corrija el valor; si la columna es obligatoria, no la deje vacía."),
    ErrorType("unique-error", "Valor repetido",
              "Fila {rowNumber}, «{fieldName}»: el valor «{cell}» ya aparece {detail}.",
              "Cada valor de esta columna debe ser único."),
    ErrorType("primary-key", "Clave primaria repetida",
              "Fila {rowNumber}: {detail}.",
              "Elimine la fila repetida."),
    # --- cells the reader could not take at face value
    ErrorType("formula-without-value", "Fórmula sin valor calculado",
              "Fila {rowNumber}, «{fieldName}»: la celda tiene la fórmula «{cell}» y ningún valor "
              "calculado, así que se leería vacía.",
              "Abra el archivo en Excel, recalcule (F9) y guárdelo; o copie la columna y péguela "
              "como valores."),
    ErrorType("spreadsheet-error", "Celda con error de Excel",
              "Fila {rowNumber}, «{fieldName}»: la celda muestra el error de Excel «{cell}».",
              "Corrija la fórmula o el dato que produce el error y vuelva a guardar el archivo."),
    ErrorType("control-character", "Carácter de control",
              "Fila {rowNumber}, «{fieldName}»: la celda «{cell}» contiene un carácter de control "
              "no imprimible ({note}).",
              "Elimine el carácter: suele venir de copiar datos desde otro sistema o de un "
              "archivo dañado."),
    # --- values of an entity's own system, read through its mapping (docs/fuentes.md)
    ErrorType("date-format-mismatch", "Fecha en otro formato",
              "Fila {rowNumber}, «{fieldName}»: «{cell}» no es una fecha en el formato que la "
              "correspondencia de la entidad declara ({note}).",
              "Corrija el valor en el sistema de origen, o agregue su formato a date_format en "
              "la correspondencia de la entidad (vea docs/fuentes.md)."),
    ErrorType("time-format-mismatch", "Hora en otro formato",
              "Fila {rowNumber}, «{fieldName}»: «{cell}» no es una hora en el formato que la "
              "correspondencia de la entidad declara ({note}).",
              "Corrija el valor en el sistema de origen, o agregue su formato a time_format en "
              "la correspondencia de la entidad (vea docs/fuentes.md)."),
    # --- domain rules of the register
    ErrorType("invalid-date", "Fecha inexistente",
              "Fila {rowNumber}, «{fieldName}»: «{cell}» no es una fecha válida.",
              "Use una fecha real en formato DD/MM/AAAA (p. ej. 05/08/2024)."),
    ErrorType("invalid-time", "Hora inexistente",
              "Fila {rowNumber}, «{fieldName}»: «{cell}» no es una hora válida.",
              "Use una hora real en formato HH:MM de 24 horas (p. ej. 14:30)."),
    ErrorType("exit-before-entry", "Salida antes del ingreso",
              "Fila {rowNumber}: la hora de salida {cell} es anterior a la hora de ingreso {note}.",
              "Corrija la hora de salida o de ingreso; déjela vacía si aún no se registró."),
    ErrorType("future-date", "Fecha en el futuro",
              "Fila {rowNumber}, «{fieldName}»: la fecha {cell} es posterior a hoy ({note}).",
              "Registre solo visitas ya ocurridas."),
    ErrorType("visit-after-registration", "Visita posterior a su registro",
              "Fila {rowNumber}: la fecha de visita {cell} es posterior a la fecha de registro {note}.",
              "La visita no puede registrarse antes de ocurrir: corrija una de las dos fechas."),
    ErrorType("unknown-document-type", "Tipo de documento desconocido",
              "Fila {rowNumber}, «{fieldName}»: no se reconoce el tipo de documento en «{cell}».",
              "Escriba el tipo y el número: 'DNI 12345678', 'CE 001234567', 'PASAPORTE AB123456'."),
    ErrorType("invalid-ruc", "RUC no válido",
              "Fila {rowNumber}, «{fieldName}»: «{cell}» no es un RUC válido (11 dígitos, prefijo 10, 15, 17 o 20 y dígito verificador correcto).",
              "Verifique el RUC en la consulta RUC de SUNAT y corríjalo."),
    ErrorType("missing-official", "Falta el funcionario visitado",
              "Fila {rowNumber}, «{fieldName}»: no se indica el nombre del funcionario visitado («{cell}»).",
              "Escriba 'APELLIDOS NOMBRES - ÁREA - CARGO' del funcionario; la ley exige registrarlo."),
    ErrorType("missing-reason", "Falta el motivo",
              "Fila {rowNumber}, «{fieldName}»: no se indica el motivo de la visita («{cell}»).",
              "Escriba '<categoría> - <detalle>', p. ej. 'Reunión de trabajo - Coordinación'; la ley exige registrarlo."),
    # --- withdrawal files (`pipeline.ingestion.withdrawals`)
    ErrorType("unknown-visit", "Visita no encontrada",
              "Fila {rowNumber}: ninguna visita de la entidad coincide ({note}).",
              "Copie el id_visita de los datos publicados, o el documento, la fecha de visita y "
              "la hora de ingreso tal como se cargaron."),
    ErrorType("invalid-document-number", "Número de documento no válido",
              "Fila {rowNumber}, «{fieldName}»: «{cell}» no es un número válido para {note}.",
              "El DNI tiene 8 dígitos; si se escribe también el carácter verificador del "
              "documento (un dígito o una letra después de los 8 dígitos), debe ser el correcto. "
              "El carné de extranjería tiene de 9 a 12 dígitos (solo números); el pasaporte, de 6 "
              "a 12 letras o dígitos; el CDI y el DMI, de 4 a 15 letras, dígitos o guiones."),
    # --- the decision-makers register (`pipeline.ingestion.decision_makers`)
    # A register replaces the one in force whole, so an empty one would silently leave the
    # entity without decision-makers: it is refused like a file without its columns.
    ErrorType("empty-register", "Registro sin decisores",
              "El registro no tiene ninguna fila de decisores debajo del encabezado.",
              "Escriba una fila por cada persona con capacidad de decisión pública. Cada carga "
              "reemplaza entera a la anterior: para dar de baja a alguien escriba la fecha en "
              "«Hasta» en lugar de borrar su fila.", "table"),
    ErrorType("end-before-start", "«Hasta» anterior a «Desde»",
              "Fila {rowNumber}, «{fieldName}»: la fecha {cell} es anterior a la de «desde», "
              "{note}.",
              "Corrija «Desde» o «Hasta»; deje «Hasta» vacía mientras la persona siga en el "
              "cargo."),
    ErrorType("overlapping-period", "Periodos superpuestos",
              "Fila {rowNumber}: {note}.",
              "Una persona ocupa un mismo cargo en periodos que no se cruzan: corrija las "
              "fechas, o deje una sola fila si es el mismo periodo."),
]}


def render(error_type: str, slots: dict[str, object]) -> str:
    template = ERROR_TYPES[error_type].template
    safe = {k: ("" if v is None else v) for k, v in slots.items()}
    safe["detail"] = detail(error_type, str(safe.get("note", "")), str(safe.get("cell", "")))
    return template.format_map(_Default(safe))


_TYPES = {"string": "un texto", "integer": "un número entero", "number": "un número",
          "boolean": "un valor verdadero o falso", "date": "una fecha", "time": "una hora",
          "datetime": "una fecha con hora", "year": "un año", "uuid": "un identificador UUID"}
_CONSTRAINT = re.compile(r'constraint "(\w+)" is "(.*)"', re.DOTALL)
_TYPE = re.compile(r'type is "(\w+)/(.*)"')
_POSITION = re.compile(r"at position (\d+)")


def detail(error_type: str, note: str, cell: str) -> str:
    """Frictionless's English note, said in Spanish for the administrator.

    The report JSON keeps the note as frictionless writes it; messages say what it means.
    """
    if error_type == "type-error" and (match := _TYPE.fullmatch(note)):
        kind, fmt = match.groups()
        shown = _TYPES["uuid" if fmt == "uuid" else kind] if kind in _TYPES else kind
        return shown + (f" con el formato {fmt}" if fmt not in ("default", "any", "uuid") else "")
    if error_type == "constraint-error" and (match := _CONSTRAINT.fullmatch(note)):
        name, value = match.groups()
        quoted = f"el valor «{cell}»"
        return {
            "required": "la celda está vacía y la columna es obligatoria",
            # the pattern itself is for machines (it stays in the JSON note)
            "pattern": f"{quoted} no tiene el formato esperado",
            "maxLength": f"{quoted} tiene más de {_characters(value)}",
            "minLength": f"{quoted} tiene menos de {_characters(value)}",
            "minimum": f"{quoted} es menor que el mínimo permitido, {value}",
            "maximum": f"{quoted} es mayor que el máximo permitido, {value}",
            "exclusiveMinimum": f"{quoted} debe ser mayor que {value}",
            "exclusiveMaximum": f"{quoted} debe ser menor que {value}",
            "enum": f"{quoted} no es uno de los valores admitidos: "
                    + ", ".join(str(v) for v in _enum_values(value)),
        }.get(name, f"{quoted} no cumple la regla «{name}» ({value})")
    if error_type in ("unique-error", "primary-key"):
        match = _POSITION.search(note)
        where = f"en la fila {match.group(1)}" if match else "en otra fila"
        if error_type == "unique-error":
            return where
        if match is None:
            return "las celdas de la clave primaria están vacías"
        return f"la clave primaria de esta fila ya aparece {where}"
    return note


def _characters(value: str) -> str:
    return plural(int(value), "carácter", "caracteres") if value.isdigit() else \
        f"{value} caracteres"


def _enum_values(value: str) -> list[object]:
    import ast

    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return [value]
    return list(parsed) if isinstance(parsed, list | tuple) else [parsed]


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return ""

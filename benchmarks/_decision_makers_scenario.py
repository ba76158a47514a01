"""A labelled, seeded set of visits and one entity's register of decision-makers.

Used by tests/test_decision_makers_matching.py (every visit's outcome must equal its truth) and
by benchmarks/decision_makers.py (precision, recall and throughput of the matcher).

The register holds about `officials` people over the year 2024: most in office the whole year,
some who leave or join mid-year, some who change post mid-year (two entries, the second
starting the day after the first ends), pairs of homonyms in force at once in different posts
and areas, and decision-makers who share their name with someone on the staff who is not one.
Each visit is drawn from one of the kinds in `KINDS` and carries the outcome and entry the
rules of `pipeline.consolidation.decision_makers` must give it, known by construction: names
that must not hit are checked against the register's exact and variant keys and its names'
similarity when they are drawn, and redrawn if they would.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from pipeline.consolidation.decision_makers import (
    FUZZY_THRESHOLD,
    GRACE_DAYS,
    MatchOutcome,
    Official,
    VisitRef,
    name_units,
    normalise_name,
    without_one_given_name,
)

START, END = dt.date(2024, 1, 1), dt.date(2024, 12, 31)

_SURNAMES = [
    "PÉREZ", "GÓMEZ", "QUISPE", "MAMANI", "HUAMÁN", "CHÁVEZ", "RAMÍREZ", "FLORES", "TORRES",
    "ROJAS", "VARGAS", "CASTILLO", "MENDOZA", "SÁNCHEZ", "DÍAZ", "GUTIÉRREZ", "ÑAHUI", "CCOPA",
    "CONDORI", "DE LA CRUZ", "DEL ÁGUILA", "SAN MARTÍN", "ALVARADO", "ESPINOZA", "SALAZAR",
    "PAREDES", "CÁRDENAS", "VALDIVIA", "ZEGARRA", "HUARCAYA", "TICONA", "PALOMINO", "ARÉVALO",
    "BENAVIDES", "CUADROS", "LUNA", "MEDINA", "OCHOA", "PACHECO", "REÁTEGUI", "YUPANQUI",
    "APAZA", "NÚÑEZ", "OLIVARES", "BUSTAMANTE", "LLERENA", "FERNÁNDEZ", "VILLANUEVA",
    "CARDOZA", "MONTOYA", "INFANTES", "SOTOMAYOR", "CHOQUEHUANCA", "ARANA", "GONZÁLEZ",
]
_GIVEN = [
    "JUAN", "CARLOS", "MARÍA", "JOSÉ", "LUIS", "ROSA", "ANA", "JORGE", "CÉSAR", "MIGUEL",
    "ÁNGEL", "PATRICIA", "ELENA", "VÍCTOR", "RAÚL", "JESÚS", "SOFÍA", "ANDRÉS", "MARTÍN",
    "GLADYS", "WILFREDO", "YOLANDA", "EDGAR", "NÉSTOR", "HÉCTOR", "RUTH", "DEL CARMEN",
    "FERNANDO", "LUCÍA", "RICARDO", "TERESA", "OSWALDO", "MILAGROS", "ROCÍO", "ALBERTO",
    "GUADALUPE", "FÉLIX", "NORMA", "EDUARDO", "BEATRIZ",
]
#: decision-making posts (cargo, area): no two cargos, and no two areas, have word sets one
#: inside the other, so a post or area never agrees with another one (checked at import)
_POSTS = [
    ("ALCALDE", "ALCALDÍA"),
    ("GERENTE MUNICIPAL", "GERENCIA MUNICIPAL"),
    ("GERENTE DE ADMINISTRACIÓN Y FINANZAS", "GERENCIA DE ADMINISTRACIÓN Y FINANZAS"),
    ("GERENTE DE DESARROLLO URBANO", "GERENCIA DE DESARROLLO URBANO"),
    ("GERENTE DE DESARROLLO ECONÓMICO", "GERENCIA DE DESARROLLO ECONÓMICO"),
    ("GERENTE DE SERVICIOS A LA CIUDAD", "GERENCIA DE SERVICIOS A LA CIUDAD"),
    ("GERENTE DE ASESORÍA JURÍDICA", "GERENCIA DE ASESORÍA JURÍDICA"),
    ("GERENTE DE PLANEAMIENTO Y PRESUPUESTO", "GERENCIA DE PLANEAMIENTO Y PRESUPUESTO"),
    ("SUBGERENTE DE OBRAS PRIVADAS", "SUBGERENCIA DE OBRAS PRIVADAS"),
    ("SUBGERENTE DE LOGÍSTICA", "SUBGERENCIA DE LOGÍSTICA"),
    ("SUBGERENTE DE RECURSOS HUMANOS", "SUBGERENCIA DE RECURSOS HUMANOS"),
    ("SUBGERENTE DE TESORERÍA", "SUBGERENCIA DE TESORERÍA"),
    ("SUBGERENTE DE LICENCIAS COMERCIALES", "SUBGERENCIA DE LICENCIAS COMERCIALES"),
    ("SUBGERENTE DE FISCALIZACIÓN", "SUBGERENCIA DE FISCALIZACIÓN"),
    ("JEFE DE CONTRATACIONES", "OFICINA DE CONTRATACIONES"),
    ("JEFE DE CONTROL PATRIMONIAL", "OFICINA DE CONTROL PATRIMONIAL"),
    ("SECRETARIO GENERAL", "SECRETARÍA GENERAL"),
    ("PROCURADOR PÚBLICO MUNICIPAL", "PROCURADURÍA PÚBLICA MUNICIPAL"),
    ("REGIDOR", "CONCEJO MUNICIPAL"),
    ("DIRECTOR DE TRANSPORTE URBANO", "DIRECCIÓN DE TRANSPORTE URBANO"),
]
#: posts of staff who are not decision-makers: none agrees with a decision-making post
_STAFF_POSTS = [
    ("ASISTENTE ADMINISTRATIVO", "MESA DE PARTES"),
    ("TÉCNICO EN ARCHIVO", "UNIDAD DE ARCHIVO CENTRAL"),
    ("CHOFER", "UNIDAD DE SERVICIOS GENERALES"),
    ("ESPECIALISTA EN SISTEMAS", "UNIDAD DE TECNOLOGÍAS DE LA INFORMACIÓN"),
    ("AUXILIAR DE COBRANZA", "UNIDAD DE RECAUDACIÓN"),
    ("INSPECTOR", "UNIDAD DE INSPECCIONES TÉCNICAS"),
    ("COORDINADOR DE PRENSA", "UNIDAD DE IMAGEN INSTITUCIONAL"),
]

#: visit kinds: (name, weight, expected outcome)
KINDS: tuple[tuple[str, int, MatchOutcome], ...] = (
    ("exacto", 20, "match"),                 # the name as the register writes it
    ("sin_tildes", 5, "match"),
    ("minusculas", 5, "match"),
    ("con_coma", 5, "match"),                # "APELLIDOS, NOMBRES"
    ("espacios", 5, "match"),                # doubled spaces, NBSP, trailing space
    ("sin_segundo_nombre", 5, "match"),      # register: two given names; visit: the first
    ("nombre_de_mas", 3, "match"),           # register: one given name; visit: two
    ("primer_dia", 3, "match"),              # on `desde`
    ("ultimo_dia", 3, "match"),              # on `hasta`
    ("cambio_de_cargo", 5, "match"),         # someone with two posts in the year: the one in force
    ("homonimo_cargo", 3, "match"),          # two homonyms in force; the visit's post separates
    ("homonimo_area", 3, "match"),           # … the visit's area separates
    ("homonimo_ambos", 2, "match"),          # … both agree with one of them
    ("dia_siguiente", 3, "uncertain"),       # the day after `hasta`, nothing else in force
    ("dia_anterior", 2, "uncertain"),        # the day before `desde`
    ("homonimo_sin_datos", 2, "uncertain"),  # homonyms, the visit gives no post nor area
    ("homonimo_cruzado", 1, "uncertain"),    # post of one homonym, area of the other
    ("homonimo_no_decisor", 2, "uncertain"), # a decision-maker's name, a staff post and area
    ("errata", 4, "uncertain"),              # one wrong letter ("GOMES" for "GOMEZ")
    ("fuera_de_vigencia", 3, "none"),        # more than GRACE_DAYS outside the window
    ("nuevo_cargo", 2, "none"),              # days after `hasta`, the visit names a staff post
    ("nombre_parecido", 5, "none"),          # staff who share surnames with a decision-maker
    ("no_decisor", 20, "none"),              # staff
    ("sin_funcionario", 1, "none"),          # no official named
)


@dataclass(frozen=True)
class Scenario:
    register: tuple[Official, ...]
    visits: tuple[VisitRef, ...]
    #: id_visita → (expected outcome, expected entry: set only for "match")
    truth: dict[str, tuple[MatchOutcome, Official | None]]
    #: id_visita → its kind in KINDS
    kinds: dict[str, str]


@dataclass(frozen=True)
class _Person:
    surnames: tuple[str, ...]
    given: tuple[str, ...]

    @property
    def name(self) -> str:
        return " ".join(self.surnames + self.given)


def _words(text: str) -> frozenset[str]:
    return frozenset(normalise_name(text).split())


def _check_posts() -> None:
    """No cargo (nor area) of one post agrees with another's under the matcher's rule."""
    posts = _POSTS + _STAFF_POSTS
    for column in (0, 1):
        sets = [_words(p[column]) for p in posts]
        for a in range(len(sets)):
            for b in range(a + 1, len(sets)):
                assert not (sets[a] <= sets[b] or sets[b] <= sets[a]), (posts[a], posts[b])


_check_posts()


def _strip_accents(text: str) -> str:
    return unicodedata.normalize("NFC", "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)))


class _Builder:
    def __init__(self, seed: int, officials: int) -> None:
        self.rng = random.Random(seed)
        self.exact: set[str] = set()   # normalised names in the register
        self.dropped: set[str] = set() # those names minus one given name
        self.register: list[Official] = []
        # people by role; each entry list is that person's entries in date order
        self.steady: list[tuple[_Person, Official]] = []
        self.leavers: list[tuple[_Person, Official]] = []
        self.joiners: list[tuple[_Person, Official]] = []
        self.changers: list[tuple[_Person, Official, Official]] = []
        self.homonyms: list[tuple[_Person, Official, Official]] = []
        self.shared: list[tuple[_Person, Official]] = []  # a staff member has the same name
        self.extended: dict[_Person, str] = {}  # one given name: the name with a second one
        self._build_register(officials)
        self.keys = sorted(self.exact)
        self.staff = [self._staff_name() for _ in range(max(50, 2 * officials))]
        self.similar = [self._similar_name() for _ in range(max(20, officials // 4))]
        self.typos = [t for t in (self._typo() for _ in range(max(20, officials // 4))) if t]

    # -- names ---------------------------------------------------------------------------------

    def _person(self, given_count: int | None = None) -> _Person:
        rng = self.rng
        surnames = tuple(rng.sample(_SURNAMES, 2))
        count = given_count or (2 if rng.random() < 0.6 else 1)
        return _Person(surnames, tuple(rng.sample(_GIVEN, count)))

    def _hits(self, key: str) -> bool:
        """Would a visit with this name hit a register name, exactly or as a variant?"""
        return (key in self.exact or key in self.dropped
                or any(k in self.exact for k in without_one_given_name(key)))

    def _free(self, key: str) -> bool:
        """Is a new decision-maker with this name distinct from every one so far, including
        variants on either side (so that no visit's variant hits two people)?"""
        drops = without_one_given_name(key)
        return not self._hits(key) and not (drops & self.dropped)

    def _add_name(self, key: str) -> None:
        self.exact.add(key)
        self.dropped.update(without_one_given_name(key))

    def _new_person(self) -> _Person:
        while True:
            person = self._person()
            key = normalise_name(person.name)
            if self._free(key):
                self._add_name(key)
                return person

    def _close(self, key: str) -> bool:
        return process.extractOne(key, self.keys, scorer=fuzz.token_sort_ratio,
                                  score_cutoff=FUZZY_THRESHOLD) is not None

    def _staff_name(self) -> str:
        while True:
            name = self._person().name
            key = normalise_name(name)
            if not self._hits(key) and not self._close(key):
                return name

    def _similar_name(self) -> str:
        """Both surnames of a decision-maker, other given names, not similar enough to hit."""
        while True:
            person, _ = self.rng.choice(self.steady)
            name = " ".join(person.surnames + tuple(self.rng.sample(_GIVEN, 1)))
            key = normalise_name(name)
            if not self._hits(key) and not self._close(key):
                return name

    def _typo(self) -> tuple[_Person, Official, str] | None:
        """One letter of a steady decision-maker's first surname replaced by another."""
        for _ in range(50):
            person, entry = self.rng.choice(self.steady)
            key = normalise_name(person.name)
            first = name_units(key)[0]
            start = len(first) - len(first.split()[-1])  # the word after any particle
            at = self.rng.randrange(start, len(first))
            letter = self.rng.choice([c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != key[at]])
            typo = key[:at] + letter + key[at + 1:]
            if not self._hits(typo) and fuzz.token_sort_ratio(typo, key) >= FUZZY_THRESHOLD:
                return person, entry, typo
        return None

    # -- register ------------------------------------------------------------------------------

    def _day(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randrange((last - first).days + 1))

    def _entry(self, person: _Person, post: tuple[str, str], desde: dt.date,
               hasta: dt.date | None) -> Official:
        entry = Official(person.name, post[0], post[1], desde, hasta)
        self.register.append(entry)
        return entry

    def _build_register(self, officials: int) -> None:
        rng = self.rng
        before = (dt.date(2021, 1, 1), dt.date(2023, 12, 31))
        mid = (dt.date(2024, 2, 1), dt.date(2024, 11, 30))
        n_homonyms = max(2, officials // 20)  # pairs
        n_changers = max(2, officials // 10)
        n_leavers = max(2, officials * 15 // 100)
        n_joiners = max(2, officials * 15 // 100)
        n_shared = max(2, officials // 20)
        n_steady = max(4, officials - 2 * n_homonyms - n_changers - n_leavers - n_joiners)
        for _ in range(n_steady):
            person = self._new_person()
            self.steady.append((person, self._entry(person, rng.choice(_POSTS),
                                                    self._day(*before), None)))
        self.shared = self.steady[:n_shared]
        for _ in range(n_leavers):
            person = self._new_person()
            self.leavers.append((person, self._entry(person, rng.choice(_POSTS),
                                                     self._day(*before), self._day(*mid))))
        for _ in range(n_joiners):
            person = self._new_person()
            self.joiners.append((person, self._entry(person, rng.choice(_POSTS),
                                                     self._day(*mid), None)))
        for _ in range(n_changers):
            person = self._new_person()
            first, second = rng.sample(_POSTS, 2)
            switch = self._day(*mid)
            self.changers.append((person,
                                  self._entry(person, first, self._day(*before), switch),
                                  self._entry(person, second, switch + dt.timedelta(days=1),
                                              None)))
        for _ in range(n_homonyms):
            person = self._new_person()
            one, other = rng.sample(_POSTS, 2)
            self.homonyms.append((person, self._entry(person, one, self._day(*before), None),
                                  self._entry(person, other, self._day(*before), None)))
        # a second given name for people with one, hitting nobody else
        for person, _ in self.steady + self.leavers + self.joiners:
            if len(person.given) != 1:
                continue
            for extra in rng.sample(_GIVEN, 6):
                if extra in person.given:
                    continue
                longer = normalise_name(f"{person.name} {extra}")
                hits = {k for k in without_one_given_name(longer) if k in self.exact}
                if longer not in self.exact and longer not in self.dropped and len(hits) == 1:
                    self.extended[person] = f"{person.name} {extra}"
                    break
        rng.shuffle(self.register)


def _in_period(entry: Official) -> tuple[dt.date, dt.date]:
    return max(entry.desde, START), min(entry.hasta or END, END)


def scenario(seed: int, visits: int, officials: int = 200) -> Scenario:
    """`visits` visits to an entity whose register has about `officials` people."""
    b = _Builder(seed, officials)
    rng = b.rng
    names = [k for k, _, _ in KINDS]
    weights = [w for _, w, _ in KINDS]
    expected = {k: outcome for k, _, outcome in KINDS}
    simple = b.steady + b.leavers + b.joiners
    two_given = [(p, e) for p, e in simple if len(p.given) >= 2]
    one_given = [(p, e) for p, e in simple if p in b.extended]
    starts = [e for e in b.register if START <= e.desde <= END]
    ends = [e for e in b.register if e.hasta is not None and START <= e.hasta <= END]

    out: list[VisitRef] = []
    truth: dict[str, tuple[MatchOutcome, Official | None]] = {}
    kinds: dict[str, str] = {}

    def post(entry: Official) -> tuple[str | None, str | None]:
        """The visit's post and area for a visit to `entry`: usually both, sometimes less."""
        draw = rng.random()
        if draw < 0.7:
            return entry.cargo, entry.area
        if draw < 0.8:
            return entry.cargo, None
        if draw < 0.9:
            return None, entry.area
        return None, None

    for n, kind in enumerate(rng.choices(names, weights, k=visits)):
        official: Official | None = None
        cargo: str | None
        area: str | None
        if kind in ("exacto", "sin_tildes", "minusculas", "con_coma", "espacios"):
            person, official = rng.choice(simple)
            day = b._day(*_in_period(official))
            cargo, area = post(official)
            if kind == "exacto":
                name = person.name
            elif kind == "sin_tildes":
                name = _strip_accents(person.name)
            elif kind == "minusculas":
                name = person.name.lower() if rng.random() < 0.5 else person.name.title()
            elif kind == "con_coma":
                name = " ".join(person.surnames) + ", " + " ".join(person.given)
            else:
                words = person.name.split(" ")
                name = words[0] + "".join(rng.choice(["  ", "\u00a0", " \u00a0 ", " "]) + w
                                          for w in words[1:]) + rng.choice([" ", "\u00a0", ""])
        elif kind == "sin_segundo_nombre":
            person, official = rng.choice(two_given)
            name = " ".join(person.surnames + person.given[:1])
            day = b._day(*_in_period(official))
            cargo, area = post(official)
        elif kind == "nombre_de_mas":
            person, official = rng.choice(one_given)
            name = b.extended[person]
            day = b._day(*_in_period(official))
            cargo, area = post(official)
        elif kind in ("primer_dia", "ultimo_dia"):
            official = rng.choice(starts if kind == "primer_dia" else ends)
            name = official.nombre
            day = official.desde if kind == "primer_dia" else official.hasta  # type: ignore[assignment]
            cargo, area = post(official)
        elif kind == "cambio_de_cargo":
            person, first, second = rng.choice(b.changers)
            day = b._day(START, END)
            official = first if first.hasta and day <= first.hasta else second
            name = person.name
            cargo, area = post(official)
        elif kind.startswith("homonimo_") and kind != "homonimo_no_decisor":
            person, one, other = rng.choice(b.homonyms)
            name = person.name
            day = b._day(START, END)
            official = one if rng.random() < 0.5 else other
            if kind == "homonimo_cargo":
                cargo, area = official.cargo, None
            elif kind == "homonimo_area":
                cargo, area = None, official.area
            elif kind == "homonimo_ambos":
                cargo, area = official.cargo, official.area
            elif kind == "homonimo_sin_datos":
                cargo, area = None, None
            else:  # homonimo_cruzado
                cargo, area = official.cargo, (other if official is one else one).area
        elif kind == "homonimo_no_decisor":
            person, entry = rng.choice(b.shared)
            name, day = person.name, b._day(*_in_period(entry))
            cargo, area = rng.choice(_STAFF_POSTS)
        elif kind == "dia_siguiente":
            person, entry = rng.choice(b.leavers)
            name, day = person.name, entry.hasta + dt.timedelta(days=1)  # type: ignore[operator]
            cargo, area = (entry.cargo, entry.area) if rng.random() < 0.7 else (None, None)
        elif kind == "dia_anterior":
            person, entry = rng.choice(b.joiners)
            name, day = person.name, entry.desde - dt.timedelta(days=1)
            cargo, area = (entry.cargo, entry.area) if rng.random() < 0.7 else (None, None)
        elif kind == "fuera_de_vigencia":
            if rng.random() < 0.5:
                person, entry = rng.choice(b.leavers)
                day = entry.hasta + dt.timedelta(days=rng.randint(GRACE_DAYS + 1, 120))  # type: ignore[operator]
            else:
                person, entry = rng.choice(b.joiners)
                day = entry.desde - dt.timedelta(days=rng.randint(GRACE_DAYS + 1, 120))
            name = person.name
            cargo, area = post(entry)
        elif kind == "nuevo_cargo":
            person, entry = rng.choice(b.leavers)
            name = person.name
            day = entry.hasta + dt.timedelta(days=rng.randint(1, GRACE_DAYS))  # type: ignore[operator]
            cargo, area = rng.choice(_STAFF_POSTS)
        elif kind == "errata":
            person, entry, name = rng.choice(b.typos)
            day = b._day(*_in_period(entry))
            cargo, area = post(entry)
        elif kind in ("nombre_parecido", "no_decisor"):
            name = rng.choice(b.similar if kind == "nombre_parecido" else b.staff)
            day = b._day(START, END)
            cargo, area = rng.choice(_STAFF_POSTS) if rng.random() < 0.8 else (None, None)
        else:  # sin_funcionario
            name = rng.choice([None, "", " "])
            day = b._day(START, END)
            cargo, area = None, None
        visit_id = f"V{n:07d}"
        out.append(VisitRef(visit_id, day, name, cargo, area))
        outcome = expected[kind]
        truth[visit_id] = (outcome, official if outcome == "match" else None)
        kinds[visit_id] = kind
    return Scenario(tuple(b.register), tuple(out), truth, kinds)

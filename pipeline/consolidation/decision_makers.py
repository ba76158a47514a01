"""Which visits were received by a decision-maker ("decisor") of the visited entity.

Each entity keeps a register of its officials with public decision-making capacity, every entry
with a validity window (`desde`, `hasta`). A visit names the official visited as free text
(`funcionario_nombre`, `_cargo`, `_area`), written by whoever registered the visit. This module
decides, for each visit, whether that official was a decision-maker on the visit's date:

* `match`: one entry of the register in force that day is the official visited;
* `uncertain`: there is a plausible entry, but the evidence is not enough to say so (homonyms
  the post and area do not separate, a name that is only similar, a date a few days outside the
  window...): an administrator decides, with `reason` and `candidates` to go on;
* `none`: nobody in the register in force that day has that name.

A `match` marks a meeting as held with a decision-maker, so every rule errs towards
`uncertain`: only a name that leaves exactly one candidate becomes a `match`. The rules and
their thresholds are documented for administrators in docs/decisores.md ("Cruce de visitas con
decisores"); the constants below are the ones that page names.

Plain Python, no Dagster and no DuckDB: the register of one entity is a few hundred entries, so
it is indexed in memory by normalised name, and each distinct (name, post, area) of the visits
is resolved once. A visit then costs a dict lookup and a check of its date against the windows
of the (usually one) entries with its name; similarity is only scored for names with no exact or
variant hit, once per distinct name.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

#: rapidfuzz `token_sort_ratio` (0-100) from which a name without an exact or variant hit is
#: an approximate candidate: one wrong letter in a name of 12 characters scores 91.7, in one of
#: 20 characters 95; a different given name ("PEREZ GOMEZ JUAN" / "PEREZ GOMEZ LUIS") scores
#: about 81.
FUZZY_THRESHOLD = 90.0
#: a visit at most this many days before an entry's `desde` or after its `hasta` is
#: `uncertain`, not `none`: registers are often updated some days late or early.
GRACE_DAYS = 7
#: the register writes "APELLIDOS NOMBRES": the first two units of a name are the surnames
SURNAMES = 2
#: words that belong to the word after them ("DE LA CRUZ", "DEL CARMEN", "SAN MARTIN"): a
#: surname or given name with them is one unit
PARTICLES = frozenset({"DE", "DEL", "LA", "LAS", "LOS", "SAN", "SANTA"})

MatchOutcome = Literal["match", "none", "uncertain"]


@dataclass(frozen=True)
class Official:
    """One entry of the entity's register of decision-makers."""

    nombre: str
    cargo: str
    area: str
    desde: dt.date
    hasta: dt.date | None  # None: still in office


@dataclass(frozen=True)
class VisitRef:
    """What matching needs of a visit: its date and the official visited as written."""

    id_visita: str
    fecha_visita: dt.date
    funcionario_nombre: str | None
    funcionario_cargo: str | None
    funcionario_area: str | None


@dataclass(frozen=True)
class Match:
    id_visita: str
    outcome: MatchOutcome
    official: Official | None  # set only for "match"
    candidates: tuple[Official, ...]  # for "uncertain": the candidates considered
    reason: str  # Spanish, one sentence, for the administrator (empty for "none")


# --- names -----------------------------------------------------------------------------------

# Removed before anything else: an apostrophe joins ("D'ALESSANDRO" = "DALESSANDRO"), and the
# acute accent sign would become a space under NFKD.
_APOSTROPHES = re.compile("['’‘`´ʼ]")
_NOT_WORD = re.compile(r"[\W_]+")


def normalise_name(name: str) -> str:
    """The comparison key of a person's name (also used for posts and areas).

    Upper case without accents ("Pérez" = "PEREZ"; Ñ becomes N, as some systems write it),
    NBSP and runs of spaces as one space, punctuation as a space: so "PÉREZ GÓMEZ, Juan"
    and "PEREZ  GOMEZ JUAN" give the same key.
    """
    text = _APOSTROPHES.sub("", name)
    # NFKD splits an accented letter into the letter and a combining mark, and turns NBSP and
    # the other compatibility spaces into plain ones; zero-width characters (Cf) are dropped.
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return " ".join(_NOT_WORD.sub(" ", text.upper()).split())


def name_units(key: str) -> tuple[str, ...]:
    """The units of a normalised name: its words, each particle joined to the word after it."""
    units: list[str] = []
    pending: list[str] = []
    for word in key.split():
        pending.append(word)
        if word not in PARTICLES:
            units.append(" ".join(pending))
            pending = []
    if pending:  # a name ending in a particle: it stays with the unit before it
        if units:
            units[-1] = " ".join([units[-1], *pending])
        else:
            units.append(" ".join(pending))
    return tuple(units)


def without_one_given_name(key: str) -> frozenset[str]:
    """The keys of `key` minus one of its given names, keeping both surnames and at least one
    given name; empty for a name with fewer than two given names."""
    units = name_units(key)
    surnames, given = units[:SURNAMES], units[SURNAMES:]
    if len(surnames) < SURNAMES or len(given) < 2:
        return frozenset()
    return frozenset(" ".join(surnames + given[:k] + given[k + 1:]) for k in range(len(given)))


def _similar_names(name: str, choices: Sequence[str]) -> list[tuple[int, float]]:
    """(index in `choices`, score) of the choices at least FUZZY_THRESHOLD similar to `name`.

    token_sort_ratio, so surnames and given names in another order still score high.
    """
    found = process.extract(name, choices, scorer=fuzz.token_sort_ratio,
                            score_cutoff=FUZZY_THRESHOLD, limit=None)
    return [(index, score) for _, score, index in found]


def _agrees(visit: frozenset[str], official: frozenset[str]) -> bool:
    """A post or area agrees when, normalised, all the words of one are in the other: "GERENTE
    MUNICIPAL" agrees with "GERENTE MUNICIPAL (E)", not with "SUBGERENTE DE OBRAS"."""
    return bool(visit) and bool(official) and (visit <= official or official <= visit)


def _words(text: str | None) -> frozenset[str]:
    return frozenset(normalise_name(text).split()) if text else frozenset()


# --- Spanish wording of the reasons ----------------------------------------------------------

_COUNT = {2: "dos", 3: "tres", 4: "cuatro", 5: "cinco"}


def _count(n: int) -> str:
    return _COUNT.get(n, str(n))


def _describe(official: Official) -> str:
    post = ", ".join(p for p in (official.cargo.strip(), official.area.strip()) if p)
    return f"{official.nombre.strip()} ({post})" if post else official.nombre.strip()


def _days(n: int) -> str:
    return "1 día" if n == 1 else f"{n} días"


def _date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def _fields(cargo: bool, area: bool) -> str:
    return ("el cargo y el área" if cargo and area else "el cargo" if cargo else "el área")


# --- matching --------------------------------------------------------------------------------

_EXACT, _SHORTER, _LONGER = "exact", "shorter", "longer"
_Decision = tuple[MatchOutcome, Official | None, tuple[Official, ...], str]
_NONE: _Decision = ("none", None, (), "")


class _Resolved:
    """One distinct (normalised name, post, area) of the visits, resolved against the register
    once; raw spellings that normalise alike share it, and with it its decisions."""

    __slots__ = ("area", "area_text", "cargo", "cargo_text", "decisions", "fuzzy", "hits",
                 "officials", "outside")

    def __init__(self, hits: tuple[tuple[int, str], ...], fuzzy: tuple[tuple[int, float], ...],
                 cargo: tuple[frozenset[str], str], area: tuple[frozenset[str], str]) -> None:
        self.hits = hits  # (register index, how the name matched)
        # entries with the name, or else (only for a name without any) with a similar one
        self.officials = tuple(i for i, _ in hits) or tuple(i for i, _ in fuzzy)
        self.fuzzy = fuzzy  # (register index, score)
        (self.cargo, self.cargo_text), (self.area, self.area_text) = cargo, area
        # the decision depends only on which of `officials` are in office that day
        self.decisions: dict[tuple[int, ...], _Decision] = {}
        # with none of them in office, on the day (how far outside the windows)
        self.outside: dict[dt.date, _Decision] = {}


class Matcher:
    """Matches visits against one entity's register of decision-makers (see the module doc).

    Keeps what it resolves for reuse: make one per register, and give it all of that entity's
    visits.
    """

    def __init__(self, register: Sequence[Official]) -> None:
        # an entry listed twice is one entry, not two homonyms
        self._register: tuple[Official, ...] = tuple(dict.fromkeys(register))
        self._desde = [o.desde for o in self._register]
        self._hasta = [o.hasta or dt.date.max for o in self._register]
        self._cargo = [_words(o.cargo) for o in self._register]
        self._area = [_words(o.area) for o in self._register]
        self._exact: dict[str, list[int]] = {}
        self._shorter: dict[str, list[int]] = {}  # an entry's name minus one given name
        for index, official in enumerate(self._register):
            key = normalise_name(official.nombre)
            if not key:
                continue
            self._exact.setdefault(key, []).append(index)
            for short in without_one_given_name(key):
                self._shorter.setdefault(short, []).append(index)
        self._choices = list(self._exact)  # distinct names, for similarity
        # caches: raw name → key; raw post or area → (words, text); key → register hits;
        # (key, post words, area words) → resolution; raw (name, post, area) → resolution
        self._keys: dict[str | None, str] = {}
        self._posts: dict[str | None, tuple[frozenset[str], str]] = {}
        self._names: dict[str, tuple[tuple[tuple[int, str], ...], tuple[tuple[int, float], ...]]] = {}
        self._canonical: dict[tuple[str, frozenset[str], frozenset[str]], _Resolved] = {}
        self._visits: dict[tuple[str | None, str | None, str | None], _Resolved] = {}

    def match(self, visit: VisitRef) -> Match:
        key = (visit.funcionario_nombre, visit.funcionario_cargo, visit.funcionario_area)
        resolved = self._visits.get(key)
        if resolved is None:
            resolved = self._visits[key] = self._resolve(*key)
        officials = resolved.officials
        if not officials:
            return Match(visit.id_visita, *_NONE)
        day = visit.fecha_visita
        desde, hasta = self._desde, self._hasta
        if len(officials) == 1:  # the usual case: no tuple to build
            inside = officials if desde[officials[0]] <= day <= hasta[officials[0]] else ()
        else:
            inside = tuple(i for i in officials if desde[i] <= day <= hasta[i])
        if inside:
            decision = resolved.decisions.get(inside)
            if decision is None:
                decision = resolved.decisions[inside] = (
                    self._in_office(resolved, inside) if resolved.hits
                    else self._approximate(resolved, inside))
        elif resolved.hits:
            decision = resolved.outside.get(day)
            if decision is None:
                decision = resolved.outside[day] = self._out_of_office(resolved, day)
        else:
            decision = _NONE
        return Match(visit.id_visita, *decision)

    # -- resolution of one distinct (name, post, area) ----------------------------------------

    def _resolve(self, name: str | None, cargo: str | None, area: str | None) -> _Resolved:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = normalise_name(name) if name else ""
        posts = []
        for text in (cargo, area):
            found = self._posts.get(text)
            if found is None:
                found = self._posts[text] = (_words(text), (text or "").strip())
            posts.append(found)
        canonical = (key, posts[0][0], posts[1][0])
        resolved = self._canonical.get(canonical)
        if resolved is None:
            hits = self._names.get(key)
            if hits is None:
                hits = self._names[key] = self._lookup(key)
            resolved = self._canonical[canonical] = _Resolved(*hits, posts[0], posts[1])
        return resolved

    def _lookup(self, key: str) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[int, float], ...]]:
        """Every register entry whose name is the same as `key` or one given name longer or
        shorter; only when there is none, the entries whose name is similar."""
        if not key:
            return (), ()
        hits = [(i, _EXACT) for i in self._exact.get(key, ())]
        hits += [(i, _SHORTER) for i in self._shorter.get(key, ())]
        for longer in sorted(without_one_given_name(key)):
            hits += [(i, _LONGER) for i in self._exact.get(longer, ())]
        hits.sort()
        if hits:
            return tuple(hits), ()
        similar = [(i, score) for n, score in _similar_names(key, self._choices)
                   for i in self._exact[self._choices[n]]]
        # best first, then register order: the order the reason names them in
        similar.sort(key=lambda pair: (-pair[1], pair[0]))
        return (), tuple(similar)

    # -- decisions ----------------------------------------------------------------------------

    def _agreement(self, resolved: _Resolved, index: int) -> tuple[bool, bool]:
        return (_agrees(resolved.cargo, self._cargo[index]),
                _agrees(resolved.area, self._area[index]))

    def _contradicts(self, resolved: _Resolved, index: int) -> bool:
        """The visit gives a post or an area, and none of those it gives agrees with the entry."""
        if not resolved.cargo and not resolved.area:
            return False
        return not any(self._agreement(resolved, index))

    def _visit_post(self, resolved: _Resolved) -> str:
        parts = []
        if resolved.cargo_text:
            parts.append(f"el cargo «{resolved.cargo_text}»")
        if resolved.area_text:
            parts.append(f"el área «{resolved.area_text}»")
        return " y ".join(parts)

    def _in_office(self, resolved: _Resolved, inside: tuple[int, ...]) -> _Decision:
        kinds = dict(resolved.hits)
        officials = tuple(self._register[i] for i in inside)
        if len(inside) == 1:
            index, official = inside[0], officials[0]
            if self._contradicts(resolved, index):
                return ("uncertain", None, officials,
                        f"El nombre coincide con el de {_describe(official)}, decisor vigente en "
                        f"la fecha de la visita, pero la visita indica {self._visit_post(resolved)}, "
                        "que no coincide con el registro: puede ser otra persona con el mismo nombre.")
            kind = kinds[index]
            if kind == _EXACT:
                reason = (f"El nombre coincide con el de {_describe(official)}, decisor vigente en "
                          "la fecha de la visita.")
            else:
                how = "sin uno de sus nombres de pila" if kind == _SHORTER else "con un nombre de pila más"
                reason = (f"El nombre de la visita es el de {_describe(official)} {how}, y es el "
                          "único decisor vigente en la fecha de la visita con ese nombre.")
            return ("match", official, (), reason)
        same = ("con el mismo nombre" if all(kinds[i] == _EXACT for i in inside)
                else "con ese nombre o con un nombre de pila de más o de menos")
        agreement = [self._agreement(resolved, i) for i in inside]
        scores = [int(c) + int(a) for c, a in agreement]
        best = max(scores)
        winners = [n for n, score in enumerate(scores) if score == best]
        if best > 0 and len(winners) == 1:
            official = officials[winners[0]]
            cargo, area = agreement[winners[0]]
            return ("match", official, (),
                    f"Hay {_count(len(inside))} decisores vigentes {same} y solo "
                    f"{_describe(official)} coincide con {_fields(cargo, area)} de la visita.")
        listed = "; ".join(_describe(o) for o in officials)
        if resolved.cargo or resolved.area:
            given = _fields(bool(resolved.cargo), bool(resolved.area))
            verb = "permiten" if resolved.cargo and resolved.area else "permite"
            why = f"{given} de la visita no {verb} distinguirlos"
        else:
            why = "la visita no indica cargo ni área que permitan distinguirlos"
        return ("uncertain", None, officials,
                f"Hay {_count(len(inside))} candidatos {same} vigentes en la fecha de la visita "
                f"({listed}) y {why}.")

    def _out_of_office(self, resolved: _Resolved, day: dt.date) -> _Decision:
        """The name is in the register, but no entry with it is in force on `day`."""
        near: list[tuple[int, int]] = []  # (days outside the window, index)
        for index in resolved.officials:
            gap = ((self._desde[index] - day).days if day < self._desde[index]
                   else (day - self._hasta[index]).days)
            # a visit that names another post or area of that person (or of someone else) is
            # evidence that the entry did not apply that day: none, as far out of the window
            if gap <= GRACE_DAYS and not self._contradicts(resolved, index):
                near.append((gap, index))
        if not near:
            return _NONE
        near.sort()
        candidates = tuple(self._register[i] for _, i in near)
        gap, index = near[0]
        official = self._register[index]
        if len(near) > 1:
            reason = (f"Hay {_count(len(near))} decisores con ese nombre cuya vigencia en el "
                      f"registro empieza o termina a {GRACE_DAYS} días o menos de la visita "
                      f"({'; '.join(_describe(o) for o in candidates)}): confirme si alguno "
                      "ocupaba el cargo ese día.")
        elif day < official.desde:
            reason = (f"{_describe(official)} figura en el registro desde el {_date(official.desde)}, "
                      f"{_days(gap)} después de la visita: confirme si ya ocupaba el cargo ese día.")
        else:
            assert official.hasta is not None
            reason = (f"{_describe(official)} figura en el registro hasta el {_date(official.hasta)}, "
                      f"{_days(gap)} antes de la visita: confirme si seguía en el cargo ese día.")
        return ("uncertain", None, candidates, reason)

    def _approximate(self, resolved: _Resolved, inside: tuple[int, ...]) -> _Decision:
        """No entry has the visit's name, but entries in force that day have a similar one."""
        scores = dict(resolved.fuzzy)
        officials = tuple(self._register[i] for i in inside)
        if len(inside) == 1:
            reason = (f"Solo un candidato aproximado: el nombre de la visita se parece al de "
                      f"{_describe(officials[0])}, con una similitud de {scores[inside[0]]:.0f} "
                      "sobre 100, pero no coincide; confirme si es la misma persona.")
        else:
            listed = "; ".join(f"{_describe(o)}, similitud {scores[i]:.0f}"
                               for i, o in zip(inside, officials, strict=True))
            reason = (f"Hay {_count(len(inside))} candidatos aproximados: el nombre de la visita "
                      f"se parece a los de {listed}, pero no coincide con ninguno; confirme si es "
                      "alguno de ellos.")
        return ("uncertain", None, officials, reason)


def match_visits(visits: Iterable[VisitRef], register: Sequence[Official]) -> Iterator[Match]:
    """The match of each visit, in order, against one entity's register."""
    matcher = Matcher(register)
    for visit in visits:
        yield matcher.match(visit)

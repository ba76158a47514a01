"""Matching visits to the entity's decision-makers (pipeline.consolidation.decision_makers)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from benchmarks._decision_makers_scenario import KINDS, scenario
from pipeline.consolidation import decision_makers as dm
from pipeline.consolidation.decision_makers import (
    FUZZY_THRESHOLD,
    GRACE_DAYS,
    Match,
    Matcher,
    Official,
    VisitRef,
    match_visits,
    normalise_name,
)

D = dt.date
GERENTE = Official("PÉREZ GÓMEZ JUAN CARLOS", "GERENTE MUNICIPAL", "GERENCIA MUNICIPAL",
                   D(2024, 1, 1), D(2024, 3, 31))
IN_OFFICE = D(2024, 2, 15)  # a day inside GERENTE's window


def visit(name: str | None, day: dt.date = IN_OFFICE, cargo: str | None = None,
          area: str | None = None, id_visita: str = "V1") -> VisitRef:
    return VisitRef(id_visita, day, name, cargo, area)


def one(register: list[Official], name: str | None, day: dt.date = IN_OFFICE,
        cargo: str | None = None, area: str | None = None) -> Match:
    return Matcher(register).match(visit(name, day, cargo, area))


# --- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "key"), [
    ("Pérez Gómez, Juan Carlos", "PEREZ GOMEZ JUAN CARLOS"),
    ("  PÉREZ\u00a0 GÓMEZ   JUAN\tCARLOS ", "PEREZ GOMEZ JUAN CARLOS"),
    ("ÑAHUI QUISPE,ROSA", "NAHUI QUISPE ROSA"),
    ("D'ALESSANDRO O’BRIEN ANA", "DALESSANDRO OBRIEN ANA"),
    ("GARCÍA-BELAÚNDE SOTO LUIS", "GARCIA BELAUNDE SOTO LUIS"),
    ("ROJAS\u200b VARGAS ANA.", "ROJAS VARGAS ANA"),
    ("", ""),
])
def test_normalise_name(raw: str, key: str) -> None:
    assert normalise_name(raw) == key


def test_name_units_keep_particles_with_the_word_after_them() -> None:
    assert dm.name_units("DE LA CRUZ DEL AGUILA MARIA DEL CARMEN") == (
        "DE LA CRUZ", "DEL AGUILA", "MARIA", "DEL CARMEN")
    assert dm.without_one_given_name("DE LA CRUZ DEL AGUILA MARIA DEL CARMEN") == {
        "DE LA CRUZ DEL AGUILA MARIA", "DE LA CRUZ DEL AGUILA DEL CARMEN"}
    # one given name: nothing to drop (the surnames stay whole)
    assert dm.without_one_given_name("PEREZ GOMEZ JUAN") == frozenset()


# --- exact name and its variants -------------------------------------------------------------

@pytest.mark.parametrize("written", [
    "PÉREZ GÓMEZ JUAN CARLOS",          # as the register writes it
    "PEREZ GOMEZ JUAN CARLOS",          # accents dropped
    "pérez gómez juan carlos",          # lower case
    "Perez Gomez Juan Carlos",
    "PÉREZ GÓMEZ, JUAN CARLOS",         # "APELLIDOS, NOMBRES"
    "PÉREZ  GÓMEZ\u00a0JUAN CARLOS ",   # doubled space, NBSP, trailing space
])
def test_same_name_however_written_is_a_match(written: str) -> None:
    result = one([GERENTE], written)
    assert result == Match(
        "V1", "match", GERENTE, (),
        "El nombre coincide con el de PÉREZ GÓMEZ JUAN CARLOS (GERENTE MUNICIPAL, GERENCIA "
        "MUNICIPAL), decisor vigente en la fecha de la visita.")


@pytest.mark.parametrize("written", ["PEREZ GOMEZ JUAN", "perez gomez, carlos"])
def test_visit_without_one_given_name_is_a_match(written: str) -> None:
    result = one([GERENTE], written)
    assert (result.outcome, result.official, result.candidates) == ("match", GERENTE, ())
    assert result.reason == (
        "El nombre de la visita es el de PÉREZ GÓMEZ JUAN CARLOS (GERENTE MUNICIPAL, GERENCIA "
        "MUNICIPAL) sin uno de sus nombres de pila, y es el único decisor vigente en la fecha "
        "de la visita con ese nombre.")


def test_visit_with_a_given_name_the_register_lacks_is_a_match() -> None:
    register = [Official("QUISPE MAMANI ROSA", "REGIDOR", "CONCEJO MUNICIPAL", D(2023, 1, 1), None)]
    result = one(register, "Quispe Mamani Rosa Elena")
    assert (result.outcome, result.official) == ("match", register[0])
    assert "con un nombre de pila más" in result.reason


def test_compound_surnames_are_not_given_names() -> None:
    register = [Official("DE LA CRUZ DEL ÁGUILA MARÍA DEL CARMEN", "ALCALDE", "ALCALDÍA",
                         D(2023, 1, 1), None)]
    assert one(register, "DE LA CRUZ DEL AGUILA MARIA").official == register[0]
    assert one(register, "DE LA CRUZ DEL AGUILA DEL CARMEN").official == register[0]
    # a missing surname is not a variant (and scores 83 < 90): nobody
    assert one(register, "DE LA CRUZ MARIA DEL CARMEN").outcome == "none"


def test_name_with_one_given_name_is_never_shortened_to_the_surnames() -> None:
    register = [Official("PEREZ GOMEZ JUAN", "ALCALDE", "ALCALDÍA", D(2023, 1, 1), None)]
    assert one(register, "PEREZ GOMEZ").outcome == "none"


def test_variant_that_is_not_the_only_candidate_is_uncertain() -> None:
    longer = Official("PEREZ GOMEZ JUAN CARLOS", "ALCALDE", "ALCALDÍA", D(2023, 1, 1), None)
    shorter = Official("PEREZ GOMEZ JUAN", "REGIDOR", "CONCEJO MUNICIPAL", D(2023, 1, 1), None)
    result = one([longer, shorter], "PEREZ GOMEZ JUAN")
    assert (result.outcome, result.official) == ("uncertain", None)
    assert set(result.candidates) == {longer, shorter}
    assert result.reason == (
        "Hay dos candidatos con ese nombre o con un nombre de pila de más o de menos vigentes "
        "en la fecha de la visita (PEREZ GOMEZ JUAN CARLOS (ALCALDE, ALCALDÍA); PEREZ GOMEZ "
        "JUAN (REGIDOR, CONCEJO MUNICIPAL)) y la visita no indica cargo ni área que permitan "
        "distinguirlos.")
    # the post separates them
    assert one([longer, shorter], "PEREZ GOMEZ JUAN", cargo="Regidor").official == shorter


# --- validity window -------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "outcome"), [
    (D(2023, 12, 24), "none"),       # 8 days before desde
    (D(2023, 12, 25), "uncertain"),  # 7 days before
    (D(2023, 12, 31), "uncertain"),  # the day before
    (D(2024, 1, 1), "match"),        # desde itself
    (D(2024, 3, 31), "match"),       # hasta itself
    (D(2024, 4, 1), "uncertain"),    # the day after
    (D(2024, 4, 7), "uncertain"),    # 7 days after
    (D(2024, 4, 8), "none"),         # 8 days after
    (D(2025, 1, 1), "none"),
])
def test_validity_window_inclusive_with_a_grace_of_uncertainty(day: dt.date, outcome: str) -> None:
    assert GRACE_DAYS == 7
    result = one([GERENTE], "PEREZ GOMEZ JUAN CARLOS", day)
    assert result.outcome == outcome
    assert result.official == (GERENTE if outcome == "match" else None)
    assert result.candidates == ((GERENTE,) if outcome == "uncertain" else ())


def test_reasons_outside_the_window() -> None:
    after = one([GERENTE], "PEREZ GOMEZ JUAN CARLOS", D(2024, 4, 1))
    assert after.reason == (
        "PÉREZ GÓMEZ JUAN CARLOS (GERENTE MUNICIPAL, GERENCIA MUNICIPAL) figura en el registro "
        "hasta el 31/03/2024, 1 día antes de la visita: confirme si seguía en el cargo ese día.")
    before = one([GERENTE], "PEREZ GOMEZ JUAN CARLOS", D(2023, 12, 29))
    assert before.reason == (
        "PÉREZ GÓMEZ JUAN CARLOS (GERENTE MUNICIPAL, GERENCIA MUNICIPAL) figura en el registro "
        "desde el 01/01/2024, 3 días después de la visita: confirme si ya ocupaba el cargo ese día.")
    assert one([GERENTE], "PEREZ GOMEZ JUAN CARLOS", D(2024, 5, 1)) == Match(
        "V1", "none", None, (), "")


def test_day_after_with_another_post_named_in_the_visit_is_none() -> None:
    result = one([GERENTE], "PEREZ GOMEZ JUAN CARLOS", D(2024, 4, 2), cargo="ASESOR",
                 area="ALCALDÍA")
    assert result == Match("V1", "none", None, (), "")


def test_open_window_has_no_end() -> None:
    entry = Official("ROJAS VARGAS ANA", "ALCALDE", "ALCALDÍA", D(2023, 1, 1), None)
    assert one([entry], "ROJAS VARGAS ANA", D(2030, 12, 31)).official == entry


def test_change_of_post_mid_period_gives_the_entry_in_force() -> None:
    first = Official("TORRES ROJAS LUIS", "GERENTE MUNICIPAL", "GERENCIA MUNICIPAL",
                     D(2023, 6, 1), D(2024, 5, 15))
    second = Official("TORRES ROJAS LUIS", "GERENTE DE DESARROLLO URBANO",
                      "GERENCIA DE DESARROLLO URBANO", D(2024, 5, 16), None)
    matcher = Matcher([first, second])
    expected = {D(2024, 1, 10): first, D(2024, 5, 15): first, D(2024, 5, 16): second,
                D(2024, 11, 30): second}
    for n, (day, entry) in enumerate(expected.items()):
        for cargo, area in ((None, None), (entry.cargo, entry.area)):
            result = matcher.match(visit("TORRES ROJAS LUIS", day, cargo, area, f"V{n}"))
            assert (result.id_visita, result.outcome, result.official) == (f"V{n}", "match", entry)
    # the day after the change, a visit still naming the old post and area: maybe someone else
    stale = matcher.match(visit("TORRES ROJAS LUIS", D(2024, 5, 16), first.cargo, first.area))
    assert (stale.outcome, stale.candidates) == ("uncertain", (second,))


# --- homonyms --------------------------------------------------------------------------------

ALCALDE = Official("QUISPE MAMANI JUAN", "ALCALDE", "ALCALDÍA", D(2023, 1, 1), None)
REGIDOR = Official("QUISPE MAMANI JUAN", "REGIDOR", "CONCEJO MUNICIPAL", D(2023, 1, 1), None)


@pytest.mark.parametrize(("cargo", "area", "entry", "fields"), [
    ("Alcalde", None, ALCALDE, "el cargo"),
    (None, "Concejo  Municipal", REGIDOR, "el área"),
    ("REGIDOR", "CONCEJO MUNICIPAL", REGIDOR, "el cargo y el área"),
    ("ALCALDE (E)", None, ALCALDE, "el cargo"),  # all the register's words are in the visit's
])
def test_homonyms_separated_by_post_or_area(cargo: str | None, area: str | None,
                                            entry: Official, fields: str) -> None:
    result = one([ALCALDE, REGIDOR], "Quispe Mamani Juan", cargo=cargo, area=area)
    assert result == Match(
        "V1", "match", entry, (),
        f"Hay dos decisores vigentes con el mismo nombre y solo {entry.nombre} ({entry.cargo}, "
        f"{entry.area}) coincide con {fields} de la visita.")


@pytest.mark.parametrize(("cargo", "area", "why"), [
    (None, None, "la visita no indica cargo ni área que permitan distinguirlos"),
    ("ALCALDE", "CONCEJO MUNICIPAL", "el cargo y el área de la visita no permiten distinguirlos"),
    ("ASESOR", None, "el cargo de la visita no permite distinguirlos"),
])
def test_homonyms_not_separable_are_uncertain(cargo: str | None, area: str | None,
                                              why: str) -> None:
    result = one([ALCALDE, REGIDOR], "QUISPE MAMANI JUAN", cargo=cargo, area=area)
    assert result == Match(
        "V1", "uncertain", None, (ALCALDE, REGIDOR),
        "Hay dos candidatos con el mismo nombre vigentes en la fecha de la visita (QUISPE "
        "MAMANI JUAN (ALCALDE, ALCALDÍA); QUISPE MAMANI JUAN (REGIDOR, CONCEJO MUNICIPAL)) y "
        f"{why}.")


def test_homonym_out_of_office_leaves_one_candidate() -> None:
    former = Official("QUISPE MAMANI JUAN", "REGIDOR", "CONCEJO MUNICIPAL", D(2019, 1, 1),
                      D(2022, 12, 31))
    assert one([ALCALDE, former], "QUISPE MAMANI JUAN").official == ALCALDE


def test_same_entry_twice_in_the_register_is_not_a_homonym() -> None:
    assert one([ALCALDE, ALCALDE], "QUISPE MAMANI JUAN").official == ALCALDE


@pytest.mark.parametrize(("cargo", "area", "outcome"), [
    ("CHOFER", "UNIDAD DE SERVICIOS GENERALES", "uncertain"),  # both disagree
    ("CHOFER", None, "uncertain"),                             # the only one given disagrees
    ("CHOFER", "ALCALDÍA", "match"),                           # the area agrees
    (None, None, "match"),
])
def test_one_candidate_whose_post_the_visit_contradicts(cargo: str | None, area: str | None,
                                                        outcome: str) -> None:
    """Staff who share a decision-maker's name must not be taken for them."""
    result = one([ALCALDE], "QUISPE MAMANI JUAN", cargo=cargo, area=area)
    assert result.outcome == outcome
    if outcome == "uncertain":
        assert result.candidates == (ALCALDE,)
        assert result.reason.startswith(
            "El nombre coincide con el de QUISPE MAMANI JUAN (ALCALDE, ALCALDÍA), decisor "
            "vigente en la fecha de la visita, pero la visita indica el cargo «CHOFER»")


# --- similar names ---------------------------------------------------------------------------

def test_typo_is_uncertain_never_a_match() -> None:
    assert FUZZY_THRESHOLD == 90
    result = one([GERENTE], "PEREZ GOMES JUAN CARLOS")
    assert result == Match(
        "V1", "uncertain", None, (GERENTE,),
        "Solo un candidato aproximado: el nombre de la visita se parece al de PÉREZ GÓMEZ JUAN "
        "CARLOS (GERENTE MUNICIPAL, GERENCIA MUNICIPAL), con una similitud de 96 sobre 100, "
        "pero no coincide; confirme si es la misma persona.")


def test_surnames_in_another_order_are_only_approximate() -> None:
    result = one([GERENTE], "GOMEZ PEREZ JUAN CARLOS")
    assert (result.outcome, result.candidates) == ("uncertain", (GERENTE,))
    assert "similitud de 100 sobre 100" in result.reason


def test_typo_close_to_two_officials() -> None:
    juan = Official("PEREZ GOMEZ JUAN", "ALCALDE", "ALCALDÍA", D(2023, 1, 1), None)
    juana = Official("PEREZ GOMEZ JUANA", "REGIDOR", "CONCEJO MUNICIPAL", D(2023, 1, 1), None)
    result = one([juan, juana], "PEREZ GOMEZ JUANN")  # 97 to both
    assert (result.outcome, result.official) == ("uncertain", None)
    assert set(result.candidates) == {juan, juana}
    assert result.reason.startswith("Hay dos candidatos aproximados:")


def test_typo_of_someone_out_of_office_and_different_given_name_are_none() -> None:
    assert one([GERENTE], "PEREZ GOMES JUAN CARLOS", D(2024, 6, 1)).outcome == "none"
    register = [Official("PEREZ GOMEZ JUAN", "ALCALDE", "ALCALDÍA", D(2023, 1, 1), None)]
    assert one(register, "PEREZ GOMEZ LUIS").outcome == "none"  # scores 81


@pytest.mark.parametrize("name", [None, "", "   ", ",."])
def test_no_official_named_is_none(name: str | None) -> None:
    assert one([GERENTE], name) == Match("V1", "none", None, (), "")


def test_match_visits_keeps_the_order_of_the_visits() -> None:
    visits = [visit("PEREZ GOMEZ JUAN CARLOS", D(2024, 2, 1), id_visita="A"),
              visit("NADIE ALGUNO ANA", D(2024, 2, 1), id_visita="B"),
              visit("PEREZ GOMEZ JUAN CARLOS", D(2024, 4, 1), id_visita="C")]
    assert [(m.id_visita, m.outcome) for m in match_visits(visits, [GERENTE])] == [
        ("A", "match"), ("B", "none"), ("C", "uncertain")]


# --- the labelled scenario -------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2024])
def test_scenario_every_outcome_equals_its_truth(seed: int) -> None:
    case = scenario(seed, 20_000)
    results = list(match_visits(case.visits, case.register))
    assert [m.id_visita for m in results] == [v.id_visita for v in case.visits]
    wrong = Counter(case.kinds[m.id_visita] for m in results
                    if (m.outcome, m.official) != case.truth[m.id_visita])
    assert wrong == Counter()
    # every kind is represented, so a rule that broke could not hide
    assert set(case.kinds.values()) == {kind for kind, _, _ in KINDS}
    predicted = [m for m in results if m.outcome == "match"]
    true = [i for i, (outcome, _) in case.truth.items() if outcome == "match"]
    correct = [m for m in predicted if case.truth[m.id_visita] == ("match", m.official)]
    assert len(correct) == len(predicted) == len(true)  # precision and recall 1.0


def test_scenario_is_seeded() -> None:
    assert scenario(5, 300) == scenario(5, 300)
    assert scenario(5, 300).visits != scenario(6, 300).visits


def test_similarity_is_scored_once_per_distinct_name_without_a_hit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    case = scenario(3, 5_000)
    matcher = Matcher(case.register)
    scored: list[str] = []
    normalised: list[str] = []
    similar, normalise = dm._similar_names, dm.normalise_name

    def counting_similar(name: str, choices: list[str]) -> list[tuple[int, float]]:
        scored.append(name)
        return similar(name, choices)

    def counting_normalise(name: str) -> str:
        normalised.append(name)
        return normalise(name)

    monkeypatch.setattr(dm, "_similar_names", counting_similar)
    monkeypatch.setattr(dm, "normalise_name", counting_normalise)
    hits = [v for v in case.visits
            if case.kinds[v.id_visita] not in ("errata", "nombre_parecido", "no_decisor")]
    for v in hits:
        matcher.match(v)
    assert scored == []  # names with an exact or variant hit are never scored
    for v in case.visits:
        matcher.match(v)
    without_hit = {normalise(v.funcionario_nombre or "") for v in case.visits
                   if case.kinds[v.id_visita] in ("errata", "nombre_parecido", "no_decisor")}
    assert sorted(scored) == sorted(without_hit)  # once per distinct name
    # each distinct raw name, post and area is normalised once, however many visits carry it
    raw = ({v.funcionario_nombre for v in case.visits}
           | {v.funcionario_cargo for v in case.visits}
           | {v.funcionario_area for v in case.visits})
    assert sorted(normalised) == sorted(text for text in raw if text)

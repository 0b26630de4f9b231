"""Workbench pages of the needs assessment.

* secretariat: **Survey rounds** (``/assessment/survey``: open a round with a deadline, see
  the responses, close it), **Report answers** (``/assessment/answers``: the imported
  national-report and survey answers as read, each can become a draft need), and the
  assessment download on the report page (``/report/assessment``);
* party: **Needs survey** (``/survey``): the open rounds' short form in the interface
  language, and the Party's draft needs to confirm, edit (the request form, with coaching)
  or discard.

The pages' own words are here, in English, French and Spanish (the workbench's interface
languages; labels of codes come from the taxonomy in six languages).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher.api.deps import AnswerId, NeedId, RoundId
from matcher.api.routes.assessment import attachment
from matcher.api.web.i18n import INTERFACE_LANGUAGES
from matcher.api.web.session import (
    TAXONOMY,
    back,
    check_csrf,
    home_for,
    open_session,
    reader_language,
    render,
    signed_in,
)
from matcher.documents.assessment import FORMATS, produce
from matcher.documents.text import DOCUMENT_LANGUAGES
from matcher.engine.challenges import MISSING_ITEMS, default_challenge_reader, missing_label
from matcher.services import answers as answer_service
from matcher.services import needs as need_service
from matcher.services import surveys as survey_service
from matcher.services.access import Conflict, Invalid, Principal
from matcher.taxonomy import CHALLENGE_KINDS

router = APIRouter(include_in_schema=False)
ANSWERS_PAGE = 50

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "assessment": "Needs assessment",
        "download": "Download the assessment",
        "download_hint": "The synthesis document for the Conference of the Parties (Article 14(4)), "
        "generated from the database. Leave the dates empty for every record up to today.",
        "from": "From",
        "to": "To",
        "format": "Format",
        "document_language": "Document language",
        "get": "Download",
        "survey_rounds": "Survey rounds",
        "report_answers": "Report answers",
        "open_round": "Open a survey round",
        "round_title": "Title",
        "opens": "Opens",
        "deadline": "Deadline",
        "open": "Open",
        "closed": "Closed",
        "close": "Close the round",
        "responses": "Responses",
        "no_rounds": "No survey round yet.",
        "no_answers": "No answers yet: import them with `matcher answers load FILE`.",
        "cycle": "Cycle",
        "question": "Question",
        "answer": "Answer",
        "challenge_kind": "Challenge kind",
        "vague": "Vague",
        "make_draft": "Make a draft need",
        "draft_need": "Draft need",
        "survey": "Needs survey",
        "survey_intro": "Tell the secretariat what your country needs. It takes a few minutes; "
        "you can change your answer until the deadline.",
        "no_open_round": "No survey is open at the moment.",
        "sources": "Which mercury sources and technologies is it about?",
        "missing": "What is missing?",
        "preferred": "What kind of help would you prefer?",
        "free_text": "In your own words (optional): what exactly is lacking, where, on what scale?",
        "as_need": "Also file it as a request",
        "as_need_none": "No, only answer the survey",
        "as_need_draft": "Yes, as a draft I will confirm later",
        "as_need_submitted": "Yes, file the request now",
        "send": "Send my answer",
        "answered": "Your answer of {date} is recorded; sending again replaces it.",
        "drafts": "Draft requests to confirm",
        "drafts_intro": "Made by the secretariat from your national report or survey answers. Confirm "
        "one to have it matched with programmes, edit it first (the form coaches you), or discard it.",
        "no_drafts": "No draft request.",
        "confirm": "Confirm",
        "edit": "Edit",
        "discard": "Discard",
        "discard_reason": "Reason (optional)",
        "notice_confirmed": "The request is confirmed and is being matched.",
        "notice_discarded": "The draft was discarded.",
        "notice_sent": "Your survey answer is recorded.",
        "notice_round": "The survey round is open.",
        "notice_round_closed": "The survey round is closed.",
        "notice_draft": "A draft need was made; the Party will see it on its survey page.",
        "notice_invalid": "Some fields are missing or wrong; please check the form.",
        "notice_closed_round": "This survey round is closed.",
        "filter": "Filter",
        "party": "Party",
        "any": "any",
        "yes": "yes",
        "no": "no",
        "total": "Total",
        "read_as": "Read as",
        "demo": "example",
    },
    "fr": {
        "assessment": "Évaluation des besoins",
        "download": "Télécharger l'évaluation",
        "download_hint": "Le document de synthèse pour la Conférence des Parties (article 14, "
        "paragraphe 4), établi à partir de la base de données. Laissez les dates vides pour tous "
        "les enregistrements jusqu'à aujourd'hui.",
        "from": "Du",
        "to": "Au",
        "format": "Format",
        "document_language": "Langue du document",
        "get": "Télécharger",
        "survey_rounds": "Enquêtes",
        "report_answers": "Réponses aux rapports",
        "open_round": "Ouvrir une enquête",
        "round_title": "Titre",
        "opens": "Ouverture",
        "deadline": "Date limite",
        "open": "Ouverte",
        "closed": "Close",
        "close": "Clore l'enquête",
        "responses": "Réponses",
        "no_rounds": "Aucune enquête pour l'instant.",
        "no_answers": "Aucune réponse : importez-les avec `matcher answers load FICHIER`.",
        "cycle": "Cycle",
        "question": "Question",
        "answer": "Réponse",
        "challenge_kind": "Nature de la difficulté",
        "vague": "Imprécise",
        "make_draft": "En faire un projet de demande",
        "draft_need": "Projet de demande",
        "survey": "Enquête sur les besoins",
        "survey_intro": "Indiquez au secrétariat les besoins de votre pays. Cela prend quelques "
        "minutes ; vous pouvez modifier votre réponse jusqu'à la date limite.",
        "no_open_round": "Aucune enquête n'est ouverte en ce moment.",
        "sources": "Quelles sources de mercure et quelles technologies sont concernées ?",
        "missing": "Que manque-t-il ?",
        "preferred": "Quel type d'aide préférez-vous ?",
        "free_text": "Dans vos propres mots (facultatif) : que manque-t-il exactement, où, à quelle échelle ?",
        "as_need": "Déposer aussi une demande",
        "as_need_none": "Non, répondre seulement à l'enquête",
        "as_need_draft": "Oui, comme projet que je confirmerai plus tard",
        "as_need_submitted": "Oui, déposer la demande maintenant",
        "send": "Envoyer ma réponse",
        "answered": "Votre réponse du {date} est enregistrée ; un nouvel envoi la remplace.",
        "drafts": "Projets de demande à confirmer",
        "drafts_intro": "Établis par le secrétariat à partir de vos réponses au rapport national ou à "
        "l'enquête. Confirmez-en un pour le mettre en relation avec des programmes, modifiez-le "
        "d'abord (le formulaire vous guide) ou écartez-le.",
        "no_drafts": "Aucun projet de demande.",
        "confirm": "Confirmer",
        "edit": "Modifier",
        "discard": "Écarter",
        "discard_reason": "Motif (facultatif)",
        "notice_confirmed": "La demande est confirmée et va être mise en relation.",
        "notice_discarded": "Le projet a été écarté.",
        "notice_sent": "Votre réponse à l'enquête est enregistrée.",
        "notice_round": "L'enquête est ouverte.",
        "notice_round_closed": "L'enquête est close.",
        "notice_draft": "Un projet de demande a été créé ; la Partie le verra sur sa page d'enquête.",
        "notice_invalid": "Des champs manquent ou sont erronés ; vérifiez le formulaire.",
        "notice_closed_round": "Cette enquête est close.",
        "filter": "Filtrer",
        "party": "Partie",
        "any": "toutes",
        "yes": "oui",
        "no": "non",
        "total": "Total",
        "read_as": "Lue comme",
        "demo": "exemple",
    },
    "es": {
        "assessment": "Evaluación de necesidades",
        "download": "Descargar la evaluación",
        "download_hint": "El documento de síntesis para la Conferencia de las Partes (artículo 14, "
        "párrafo 4), generado a partir de la base de datos. Deje las fechas vacías para todos los "
        "registros hasta hoy.",
        "from": "Desde",
        "to": "Hasta",
        "format": "Formato",
        "document_language": "Idioma del documento",
        "get": "Descargar",
        "survey_rounds": "Encuestas",
        "report_answers": "Respuestas a los informes",
        "open_round": "Abrir una encuesta",
        "round_title": "Título",
        "opens": "Apertura",
        "deadline": "Fecha límite",
        "open": "Abierta",
        "closed": "Cerrada",
        "close": "Cerrar la encuesta",
        "responses": "Respuestas",
        "no_rounds": "Aún no hay encuestas.",
        "no_answers": "Aún no hay respuestas: impórtelas con `matcher answers load ARCHIVO`.",
        "cycle": "Ciclo",
        "question": "Pregunta",
        "answer": "Respuesta",
        "challenge_kind": "Tipo de dificultad",
        "vague": "Imprecisa",
        "make_draft": "Convertir en borrador de solicitud",
        "draft_need": "Borrador de solicitud",
        "survey": "Encuesta sobre necesidades",
        "survey_intro": "Indique a la secretaría lo que necesita su país. Toma unos minutos; puede "
        "cambiar su respuesta hasta la fecha límite.",
        "no_open_round": "No hay ninguna encuesta abierta en este momento.",
        "sources": "¿De qué fuentes de mercurio y tecnologías se trata?",
        "missing": "¿Qué falta?",
        "preferred": "¿Qué tipo de ayuda prefiere?",
        "free_text": "Con sus propias palabras (opcional): ¿qué falta exactamente, dónde y en qué escala?",
        "as_need": "Presentar también una solicitud",
        "as_need_none": "No, solo responder a la encuesta",
        "as_need_draft": "Sí, como borrador que confirmaré después",
        "as_need_submitted": "Sí, presentar la solicitud ahora",
        "send": "Enviar mi respuesta",
        "answered": "Su respuesta del {date} está registrada; un nuevo envío la reemplaza.",
        "drafts": "Borradores de solicitud por confirmar",
        "drafts_intro": "Preparados por la secretaría a partir de sus respuestas al informe nacional "
        "o a la encuesta. Confirme uno para que se vincule con programas, modifíquelo antes (el "
        "formulario le orienta) o descártelo.",
        "no_drafts": "No hay borradores de solicitud.",
        "confirm": "Confirmar",
        "edit": "Modificar",
        "discard": "Descartar",
        "discard_reason": "Motivo (opcional)",
        "notice_confirmed": "La solicitud está confirmada y se está vinculando.",
        "notice_discarded": "El borrador fue descartado.",
        "notice_sent": "Su respuesta a la encuesta está registrada.",
        "notice_round": "La encuesta está abierta.",
        "notice_round_closed": "La encuesta está cerrada.",
        "notice_draft": "Se creó un borrador de solicitud; la Parte lo verá en su página de encuesta.",
        "notice_invalid": "Faltan campos o hay errores; revise el formulario.",
        "notice_closed_round": "Esta encuesta está cerrada.",
        "filter": "Filtrar",
        "party": "Parte",
        "any": "todas",
        "yes": "sí",
        "no": "no",
        "total": "Total",
        "read_as": "Leída como",
        "demo": "ejemplo",
    },
}
NOTICES = (
    "confirmed",
    "discarded",
    "sent",
    "round",
    "round_closed",
    "draft",
    "invalid",
    "closed_round",
)


def words_for(request: Request) -> tuple[str, dict[str, str]]:
    """The interface language of these pages and their words (English where missing)."""
    language = reader_language(request)
    interface = language if language in INTERFACE_LANGUAGES else "en"
    return language, {**WORDS["en"], **WORDS.get(interface, {})}


def _page(
    request: Request, name: str, principal: Principal, notice: str = "", **context: Any
) -> HTMLResponse:
    language, words = words_for(request)
    kinds = default_challenge_reader().kinds
    return render(
        request,
        name,
        principal,
        w=words,
        message=words.get(f"notice_{notice}") if notice in NOTICES else None,
        missing_items=[(item, missing_label(item, language)) for item in MISSING_ITEMS],
        challenge_label=lambda code: kinds[code].label_in(language) if code in kinds else "–",
        **context,
    )


# ---------------------------------------------------------------------------- download


@router.get("/report/assessment")
def download_assessment(
    request: Request,
    start: str = "",
    end: str = "",
    lang: str = "en",
    file_format: str = "pdf",
) -> Response:
    """The synthesis document (staff; the service refuses others)."""
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            first = dt.date.fromisoformat(start) if start else None
            last = dt.date.fromisoformat(end) if end else None
        except ValueError:
            raise Invalid("dates are written YYYY-MM-DD") from None
        settings = request.app.state.store.settings
        document = produce(
            session,
            principal,
            start=first,
            end=last,
            language=lang if lang in DOCUMENT_LANGUAGES else "en",
            file_format=file_format if file_format in FORMATS else "pdf",
            unmet_threshold=settings.unmet_score_threshold,
            unmet_after_days=settings.unmet_after_days,
        )
    return attachment(document)


# ---------------------------------------------------------------------------- staff


@router.get("/assessment/survey", response_class=HTMLResponse)
def survey_rounds(request: Request, notice: str = "", show: int = 0) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        rounds = survey_service.list_rounds(session)
        counts = survey_service.response_counts(session)
        shown = survey_service.responses_of(session, principal, show) if show else []
        return _page(
            request,
            "survey_rounds.html",
            principal,
            notice,
            rounds=[(survey, survey_service.is_open(survey), counts.get(survey.id, 0)) for survey in rounds],
            shown=shown,
            show=show,
            default_deadline=(dt.date.today() + dt.timedelta(days=60)).isoformat(),
        )


@router.post("/assessment/survey")
def open_survey_round(
    request: Request, csrf: str = Form(""), title: str = Form(""), deadline: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            survey_service.open_round(
                session, principal, title=title, deadline=dt.date.fromisoformat(deadline)
            )
        except (Invalid, ValueError):
            session.rollback()
            return back("/assessment/survey", notice="invalid")
        session.commit()
    return back("/assessment/survey", notice="round")


@router.post("/assessment/survey/{round_id}/close")
def close_survey_round(round_id: RoundId, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        survey_service.close_round(session, principal, round_id)
        session.commit()
    return back("/assessment/survey", notice="round_closed")


@router.get("/assessment/answers", response_class=HTMLResponse)
def report_answers(
    request: Request,
    party: str = "",
    cycle: str = "",
    challenge_kind: str = "",
    offset: int = 0,
    notice: str = "",
) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        filters = answer_service.AnswerFilters(
            party=party.strip().upper() or None,
            cycle=int(cycle) if cycle.isdigit() else None,
            challenge_kind=challenge_kind if challenge_kind in CHALLENGE_KINDS else None,
        )
        offset = max(0, offset)
        page = answer_service.list_answers(session, principal, filters, limit=ANSWERS_PAGE, offset=offset)
        return _page(
            request,
            "report_answers.html",
            principal,
            notice,
            answers=page.items,
            total=page.total,
            offset=offset,
            next_offset=page.next_offset,
            page_size=ANSWERS_PAGE,
            filters={"party": party, "cycle": cycle, "challenge_kind": challenge_kind},
            kinds=CHALLENGE_KINDS,
        )


@router.post("/assessment/answers/{answer_id}/draft")
def make_draft(answer_id: AnswerId, request: Request, csrf: str = Form(""), next: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        answer_service.draft_from_answer(session, principal, answer_id, matching=request.app.state.matching)
    target = next if next.startswith("/assessment/answers") else "/assessment/answers"
    return back(target, notice="draft")


# ---------------------------------------------------------------------------- party


@router.get("/survey", response_class=HTMLResponse)
def party_survey(request: Request, notice: str = "") -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if principal.role != "party":
            return RedirectResponse(
                "/assessment/survey" if principal.is_staff else home_for(principal), status_code=303
            )
        assert principal.party is not None
        rounds = [
            (survey, survey_service.response_of(session, survey.id, principal.party))
            for survey in survey_service.open_rounds(session)
        ]
        return _page(
            request,
            "survey.html",
            principal,
            notice,
            rounds=rounds,
            drafts=answer_service.drafts_of(session, principal),
            sectors=list(TAXONOMY.sectors),
            assistance_types=list(TAXONOMY.assistance_types),
        )


@router.post("/survey/{round_id}")
def send_survey(
    round_id: RoundId,
    request: Request,
    csrf: str = Form(""),
    sectors: list[str] = Form([]),
    missing: list[str] = Form([]),
    assistance_types: list[str] = Form([]),
    free_text: str = Form(""),
    as_need: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    language, _ = words_for(request)
    with open_session(request) as session:
        principal = signed_in(request, session)
        data = {
            "sectors": sectors,
            "missing": missing,
            "assistance_types": assistance_types,
            "free_text": free_text,
            "language": language if not free_text.strip() else None,
        }
        try:
            survey_service.submit_response(
                session, principal, round_id, data, matching=request.app.state.matching, as_need=as_need
            )
        except Invalid:
            session.rollback()
            return back("/survey", notice="invalid")
        except Conflict:
            session.rollback()
            return back("/survey", notice="closed_round")
    return back("/survey", notice="sent")


@router.post("/drafts/{need_id}/confirm")
def confirm_draft(need_id: NeedId, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        need_service.confirm_draft(session, principal, need_id, matching=request.app.state.matching)
    return back(f"/needs/{need_id}", notice="saved")


@router.post("/drafts/{need_id}/discard")
def discard_draft(
    need_id: NeedId, request: Request, csrf: str = Form(""), reason: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        need_service.discard_draft(
            session, principal, need_id, matching=request.app.state.matching, reason=reason
        )
    return back("/survey", notice="discarded")

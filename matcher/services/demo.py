"""Demonstration data: a first look at a living queue, report and assessment document.

``matcher demo load`` adds example needs (six languages, some vague), national-report
answers, a survey round with responses, draft needs, decisions and outcomes with amounts,
spread over the last six months so the document's "change since the previous period" has
something to compare. Everything is marked as an example:

* needs have ids starting ``demo-`` and titles starting "[Example]" in their language;
* answers and survey rounds carry ``demo = true`` (answers' question ids start ``demo-``);
* every write is made by the principal ``key:demo``, so its audit events say so.

``matcher demo remove`` withdraws the open example needs (so the matching service forgets
them), then deletes every example row: their proposals, interests, jobs, survey responses,
answers, rounds and needs. Real data is never touched. **Audit events stay**: they are
append-only (refused by database triggers), so the trail keeps the demo's history under
the actor ``key:demo``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from catalog.answers import AnswerRow, import_answers
from matcher.services import review
from matcher.services.access import Principal
from matcher.services.answers import draft_from_answer
from matcher.services.matching import MatchingService
from matcher.services.needs import confirm_draft, create_need, update_need, withdraw_need
from matcher.services.surveys import open_round, submit_response
from matcher.store.models import (
    Interest,
    Job,
    Match,
    Need,
    ReportAnswer,
    SurveyResponse,
    SurveyRound,
    utcnow,
)
from matcher.taxonomy import OPEN_NEED_STATUSES

DEMO = Principal(key_id="demo", role="secretariat")
PREFIX = "demo-"
EXAMPLE = {
    "en": "[Example]",
    "fr": "[Exemple]",
    "es": "[Ejemplo]",
    "ar": "[مثال]",
    "ru": "[Пример]",
    "zh": "[示例]",
}

# (id, party, language, days ago, title, description, stated sectors, stated types, budget)
NEEDS: tuple[tuple[str, str, str, int, str, str, tuple[str, ...], tuple[str, ...], float | None], ...] = (
    (
        "demo-need-ghana-asgm",
        "GHA",
        "en",
        170,
        "Mercury-free gold processing for small-scale miners",
        "Small-scale gold miners in the Western and Ashanti regions amalgamate whole ore with mercury. "
        "District officers need training and demonstration equipment (shaking tables, retorts) to introduce "
        "gravity concentration and direct smelting at twelve mining sites.",
        ("asgm",),
        ("training", "technology"),
        250_000,
    ),
    (
        "demo-need-senegal-waste",
        "SEN",
        "fr",
        150,
        "Gestion des déchets de mercure des hôpitaux de Dakar",
        "Les hôpitaux de Dakar stockent des thermomètres et tensiomètres à mercure hors d'usage sans local "
        "adapté. Nous avons besoin d'un entreposage provisoire sécurisé et d'une filière d'élimination "
        "écologiquement rationnelle.",
        ("waste", "storage"),
        ("technical-assistance",),
        None,
    ),
    (
        "demo-need-peru-vague",
        "PER",
        "es",
        140,
        "Apoyo para la implementación",
        "Necesitamos apoyo técnico y financiero para cumplir con las obligaciones del Convenio.",
        (),
        (),
        None,
    ),
    (
        "demo-need-jordan-amalgam",
        "JOR",
        "ar",
        120,
        "دعم الخفض التدريجي لملغم الأسنان",
        "تحتاج وزارة الصحة إلى تمويل لشراء الملغم المغلف في كبسولات وتركيب فواصل الملغم في 320 عيادة أسنان حكومية.",
        ("dental-amalgam",),
        ("financing",),
        400_000,
    ),
    (
        "demo-need-kazakhstan-chlor",
        "KAZ",
        "ru",
        100,
        "Обследование бывшей хлорно-щелочной площадки в Павлодаре",
        "Территория бывшего хлорно-щелочного производства загрязнена ртутью. Требуется обследование почв и "
        "подземных вод и план рекультивации загрязнённого участка.",
        ("contaminated-sites",),
        ("technical-assistance", "data"),
        None,
    ),
    (
        "demo-need-china-cement",
        "CHN",
        "zh",
        80,
        "水泥窑汞排放监测能力",
        "需要为重点水泥窑和燃煤锅炉配备烟气汞连续监测设备，并培训地方监测人员，以完善大气汞排放清单。",
        ("emissions",),
        ("technology", "training"),
        None,
    ),
    (
        "demo-need-kenya-vague",
        "KEN",
        "en",
        60,
        "Support needed",
        "We need resources and capacity to implement the Convention.",
        (),
        (),
        None,
    ),
    (
        "demo-need-philippines-lamps",
        "PHL",
        "en",
        45,
        "Collection and recycling of spent fluorescent lamps",
        "Spent compact fluorescent lamps from government offices in Metro Manila are discarded with household "
        "waste. We need a lamp crusher with mercury recovery and a collection scheme for 40 agencies.",
        ("waste", "products"),
        ("technology", "financing"),
        180_000,
    ),
    (
        "demo-need-haiti-vague",
        "HTI",
        "fr",
        20,
        "Besoin d'appui",
        "Haïti a besoin de ressources pour mettre en œuvre la Convention.",
        (),
        (),
        None,
    ),
    (
        "demo-need-ecuador-tailings",
        "ECU",
        "es",
        10,
        "Relavera comunitaria en Portovelo",
        "Las plantas de beneficio de Portovelo y Zaruma descargan relaves con mercurio al río Calera. "
        "Se solicita financiamiento para construir una relavera comunitaria y monitorear el río.",
        ("asgm", "releases"),
        ("financing",),
        600_000,
    ),
)

# National-report answers (party, language, days ago, question id, question, answer).
ANSWERS: tuple[tuple[str, str, int, str, str, str], ...] = (
    (
        "TZA",
        "en",
        160,
        "demo-Q-CAP",
        "What capacities does your country lack to meet its obligations?",
        "Customs officers at Dar es Salaam port are not trained to recognise mercury consignments declared "
        "under other chemical names.",
    ),
    (
        "BFA",
        "fr",
        130,
        "demo-Q-ASSIST",
        "Votre pays a-t-il besoin d'une assistance financière ou technique ?",
        "Aucune ligne budgétaire n'a été inscrite au budget de l'État pour le plan d'action national sur "
        "l'orpaillage. Le Burkina Faso sollicite un financement pour la première phase du plan.",
    ),
    (
        "BOL",
        "es",
        110,
        "demo-Q-INFO",
        "¿Qué lagunas de información o datos tiene su país?",
        "Desconocemos cuánto mercurio se usa en la minería aurífera del río Beni; no existe un inventario.",
    ),
    (
        "OMN",
        "ar",
        90,
        "demo-Q-TECH",
        "صفوا الصعوبات في الحصول على التكنولوجيات البديلة أو المعدات.",
        "لا يملك المختبر المركزي أي جهاز لقياس الزئبق في الهواء المحيط، ولا يوجد وكيل محلي لأجهزة التحليل.",
    ),
    (
        "UZB",
        "ru",
        70,
        "demo-Q-ASSIST",
        "Нуждается ли ваша страна в финансовой или технической помощи?",
        "Недостаточно финансирования и технических ресурсов для выполнения обязательств по Конвенции.",
    ),
    (
        "JAM",
        "en",
        50,
        "demo-Q-PROD",
        "What obstacles do you face in phasing out mercury-added products?",
        "No regulation prohibits the import of mercury-added lamps and skin-lightening creams, and no agency "
        "has a mandate to refuse them.",
    ),
    (
        "GUY",
        "en",
        30,
        "demo-Q-INFO",
        "What information or data gaps does your country have?",
        "Significant gaps remain in the availability of reliable information and awareness remains limited.",
    ),
    (
        "MLI",
        "fr",
        15,
        "demo-Q-CAP",
        "De quelles capacités votre pays manque-t-il ?",
        "Les agents de santé des zones d'orpaillage de Kéniéba ne sont pas formés au diagnostic de "
        "l'intoxication au mercure.",
    ),
)


@dataclass
class DemoReport:
    needs: int = 0
    answers: int = 0
    drafts: int = 0
    survey_responses: int = 0
    decisions: int = 0
    outcomes: int = 0
    removed: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.removed:
            return "removed: " + ", ".join(f"{count} {name}" for name, count in self.removed.items())
        return (
            f"demo loaded: {self.needs} needs, {self.answers} answers, {self.drafts} draft needs, "
            f"{self.survey_responses} survey responses, {self.decisions} decisions, {self.outcomes} outcomes"
        )


def is_loaded(session: Session) -> bool:
    return session.scalar(select(Need.id).where(Need.id.like(f"{PREFIX}%")).limit(1)) is not None


def _backdate(session: Session, need_id: str, days: int, now: dt.datetime) -> None:
    """Spread the examples over past months (creation times only; audit events keep real times)."""
    when = now - dt.timedelta(days=days)
    session.execute(update(Need).where(Need.id == need_id).values(created_at=when, updated_at=when))
    session.execute(update(Match).where(Match.need_id == need_id).values(created_at=when))
    session.execute(update(ReportAnswer).where(ReportAnswer.need_id == need_id).values(created_at=when))


def load_demo(session: Session, matching: MatchingService, *, now: dt.datetime | None = None) -> DemoReport:
    """Add the examples (once: a second load changes nothing) and commit."""
    report = DemoReport()
    if is_loaded(session):
        return report
    now = now or utcnow()
    for need_id, party, language, _, title, description, sectors, types, budget in NEEDS:
        data: dict[str, Any] = {
            "party": party,
            "title": f"{EXAMPLE[language]} {title}",
            "description": description,
            "language": language,
            "sectors": list(sectors),
            "assistance_types": list(types),
            "budget_usd": budget,
        }
        create_need(session, DEMO, data, matching=matching, need_id=need_id)
        report.needs += 1
    # Coaching at work: the Kenyan request is made specific after the vague check's advice.
    update_need(
        session,
        DEMO,
        "demo-need-kenya-vague",
        {
            "title": f"{EXAMPLE['en']} Phasing out mercury-added thermometers in public hospitals",
            "description": "Kenya's 40 county hospitals still buy mercury thermometers and blood-pressure "
            "devices. We need financing to replace 6,000 devices with digital ones and training for "
            "biomedical staff on collecting the old devices.",
            "sectors": ["products", "health"],
            "assistance_types": ["financing", "training"],
        },
        matching=matching,
    )
    rows = [
        AnswerRow(
            party=party,
            cycle=2025,
            question_id=question_id,
            question=question,
            answer=answer,
            language=language,
        )
        for party, language, _, question_id, question, answer in ANSWERS
    ]
    _, stored = import_answers(session, rows, actor=DEMO.actor, demo=True)
    session.commit()
    report.answers = len(stored)
    answer_days = {(party, question_id): days for party, _, days, question_id, _, _ in ANSWERS}
    for answer in stored:
        session.execute(
            update(ReportAnswer)
            .where(ReportAnswer.id == answer.id)
            .values(created_at=now - dt.timedelta(days=answer_days[(answer.party_iso3, answer.question_id)]))
        )
    session.commit()
    # Three answers become draft needs; the Tanzanian one is confirmed by its Party.
    for index, answer in enumerate(stored[:3]):
        draft_from_answer(session, DEMO, answer.id, matching=matching, need_id=f"{PREFIX}draft-{index + 1}")
        report.drafts += 1
    confirm_draft(session, DEMO, f"{PREFIX}draft-1", matching=matching)
    # A survey round: three Parties answer, one of them as a request matched at once.
    survey = open_round(
        session,
        DEMO,
        title="[Example] Needs survey 2026",
        opens=(now - dt.timedelta(days=40)).date(),
        deadline=(now + dt.timedelta(days=30)).date(),
        demo=True,
    )
    session.commit()
    responses: tuple[tuple[str, dict[str, Any], str], ...] = (
        (
            "ZMB",
            {
                "sectors": ["asgm"],
                "missing": ["equipment", "skills"],
                "assistance_types": ["technology", "training"],
                "free_text": "Miners in Mwinilunga need retorts and training in their use.",
                "language": "en",
            },
            "submitted",
        ),
        (
            "CIV",
            {
                "sectors": ["waste"],
                "missing": ["infrastructure"],
                "assistance_types": ["technology"],
                "free_text": "",
                "language": "fr",
            },
            "draft",
        ),
        (
            "COL",
            {
                "sectors": ["emissions"],
                "missing": ["data"],
                "assistance_types": ["data"],
                "free_text": "No tenemos datos de emisiones de mercurio de las centrales de carbón.",
                "language": "es",
            },
            "",
        ),
    )
    for party, values, as_need in responses:
        submit_response(session, DEMO, survey.id, values, matching=matching, as_need=as_need, party=party)
        report.survey_responses += 1
    for index, (need_id, *_rest) in enumerate(NEEDS):
        _backdate(session, need_id, NEEDS[index][3], now)
    session.commit()
    report.decisions, report.outcomes = _decide(session, matching, now)
    session.commit()
    return report


def _decide(session: Session, matching: MatchingService, now: dt.datetime) -> tuple[int, int]:
    """Decisions and outcomes on the examples' best proposals: accepted, introduced, funded
    (in USD and EUR), declined, and one rejection with its reason; dated 10, 20 and 35 days
    after the need (never later than now), so they fall in the periods a document compares."""
    filed = {need_id: days for need_id, _, _, days, *_ in NEEDS}
    plan = {
        "demo-need-ghana-asgm": ("funded", 180_000.0, "USD"),
        "demo-need-senegal-waste": ("agreed", None, None),
        "demo-need-jordan-amalgam": ("funded", 95_000.0, "EUR"),
        "demo-need-kazakhstan-chlor": ("declined", None, None),
        "demo-need-china-cement": (None, None, None),
        "demo-need-philippines-lamps": ("no-response", None, None),
    }
    decisions = outcomes = 0
    for need_id, (outcome, amount, currency) in plan.items():
        proposals = list(
            session.scalars(
                select(Match).where(Match.need_id == need_id, Match.state == "proposed").order_by(Match.rank)
            )
        )
        if not proposals:
            continue
        best = proposals[0]
        review.accept(session, DEMO, best.id, matching=matching)
        decisions += 1
        if len(proposals) > 1:
            review.reject(
                session, DEMO, proposals[-1].id, "[Example] outside the programme's focus", matching=matching
            )
            decisions += 1
        if outcome is None:
            continue
        review.introduce(session, DEMO, best.id, matching=matching)
        decisions += 1
        note = "[Example] the programme's current call is closed" if outcome == "declined" else None
        review.record_outcome(
            session, DEMO, best.id, outcome=outcome, amount=amount, currency=currency, note=note
        )
        outcomes += 1
    for need_id, days in filed.items():
        filed_at = now - dt.timedelta(days=days)
        on_need = Match.need_id == need_id
        for column, extra in ((Match.decided_at, 10), (Match.introduced_at, 20), (Match.outcome_at, 35)):
            when = min(now, filed_at + dt.timedelta(days=extra))
            session.execute(update(Match).where(on_need, column.is_not(None)).values({column: when}))
    return decisions, outcomes


def remove_demo(session: Session, matching: MatchingService) -> DemoReport:
    """Remove every example (see the module's note on audit events) and commit."""
    report = DemoReport()
    demo_needs = select(Need.id).where(Need.id.like(f"{PREFIX}%"))
    for need_id in list(session.scalars(demo_needs.where(Need.status.in_((*OPEN_NEED_STATUSES, "draft"))))):
        withdraw_need(session, DEMO, need_id, matching=matching, reason="[Example] demo data removed")
    rounds = select(SurveyRound.id).where(SurveyRound.demo.is_(True))
    steps: tuple[tuple[str, Any], ...] = (
        ("interests", delete(Interest).where(Interest.need_id.in_(demo_needs))),
        ("jobs", delete(Job).where(Job.entity_id.like(f"{PREFIX}%"))),
        ("proposals", delete(Match).where(Match.need_id.in_(demo_needs))),
        (
            "survey responses",
            delete(SurveyResponse).where(
                or_(SurveyResponse.round_id.in_(rounds), SurveyResponse.need_id.in_(demo_needs))
            ),
        ),
        (
            "answers",
            delete(ReportAnswer).where(
                or_(ReportAnswer.demo.is_(True), ReportAnswer.need_id.in_(demo_needs))
            ),
        ),
        ("survey rounds", delete(SurveyRound).where(SurveyRound.demo.is_(True))),
    )
    for name, statement in steps:
        report.removed[name] = session.execute(statement).rowcount  # type: ignore[attr-defined]
    # Through the ORM, so the catalogue version and change log record the needs' removal.
    needs = list(session.scalars(select(Need).where(Need.id.like(f"{PREFIX}%"))))
    for need in needs:
        session.delete(need)
    report.removed["needs"] = len(needs)
    session.commit()
    return report

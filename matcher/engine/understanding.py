"""Understanding a request: its language, the codes it implies, and whether it is too vague.

The secretariat's study of Article 14 requests found Parties writing that they lack
"resources" or "capacity" without naming equipment, skills, financing or infrastructure.
``assess`` flags such a need and says, in the need's language, what to add. A vague need
is still ranked (general-purpose programmes suit it); the flag is advice, not a refusal.
What vague means (no concrete subject named, whatever the length) is defined once, in
``matcher.engine.vagueness``, which the score's specificity reads too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from matcher.engine.domain import NeedProfile
from matcher.engine.query import NeedQuery
from matcher.engine.text.language import LanguageDetector, default_detector
from matcher.engine.text.tagging import KeywordTagger, TagEvidence
from matcher.engine.vagueness import GENERIC_WORDING, Vagueness
from matcher.taxonomy import GENERAL_SECTOR, Taxonomy, load_taxonomy

# Sector examples named in the coaching message (all sectors are listed as options).
EXAMPLE_SECTORS = ("asgm", "products", "waste", "emissions", "contaminated-sites")
CLEAR_TYPE_EVIDENCE = 2.0  # assistance-type evidence from which the kind of help is evident


@dataclass(frozen=True)
class Coaching:
    vague: bool
    reasons: tuple[str, ...] = ()
    missing: tuple[dict[str, Any], ...] = ()
    message: str | None = None
    language: str = "en"

    def as_dict(self) -> dict[str, Any]:
        return {
            "vague": self.vague,
            "reasons": list(self.reasons),
            "missing": [dict(item) for item in self.missing],
            "message": self.message,
            "language": self.language,
        }


@dataclass(frozen=True)
class Reading:
    """What was understood of one need's text."""

    language: str | None
    language_detected: bool
    evidence: TagEvidence = field(repr=False)
    inferred_sectors: tuple[str, ...]
    inferred_assistance_types: tuple[str, ...]


# Message parts, written for each UN language. {examples} is filled with taxonomy labels.
_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "intro": "To find the right partners, please make your request more specific.",
        "sectors": "Which mercury issue is it about? For example: {examples}.",
        "assistance_types": "What kind of help do you need? For example: {examples}.",
        "details": "Say what exactly is lacking (equipment, skills, financing or infrastructure), where, and on what scale.",
        "budget_usd": "If you can, give an indicative budget in US dollars.",
    },
    "fr": {
        "intro": "Pour trouver les bons partenaires, merci de préciser votre demande.",
        "sectors": "Quel problème lié au mercure est concerné ? Par exemple : {examples}.",
        "assistance_types": "De quel type d'aide avez-vous besoin ? Par exemple : {examples}.",
        "details": "Indiquez ce qui manque précisément (équipements, compétences, financement ou infrastructures), où, et à quelle échelle.",
        "budget_usd": "Si possible, indiquez un budget estimatif en dollars des États-Unis.",
    },
    "es": {
        "intro": "Para encontrar a los socios adecuados, precise su solicitud.",
        "sectors": "¿A qué problema relacionado con el mercurio se refiere? Por ejemplo: {examples}.",
        "assistance_types": "¿Qué tipo de ayuda necesita? Por ejemplo: {examples}.",
        "details": "Indique qué falta exactamente (equipos, conocimientos, financiación o infraestructura), dónde y en qué escala.",
        "budget_usd": "Si puede, indique un presupuesto aproximado en dólares estadounidenses.",
    },
    "ru": {
        "intro": "Чтобы найти подходящих партнёров, пожалуйста, уточните запрос.",
        "sectors": "К какой проблеме, связанной с ртутью, он относится? Например: {examples}.",
        "assistance_types": "Какая помощь вам нужна? Например: {examples}.",
        "details": "Укажите, чего именно не хватает (оборудования, навыков, финансирования или инфраструктуры), где и в каком объёме.",
        "budget_usd": "Если возможно, укажите ориентировочный бюджет в долларах США.",
    },
    "ar": {
        "intro": "للعثور على الشركاء المناسبين، يُرجى توضيح طلبكم بمزيد من التحديد.",
        "sectors": "ما هي مسألة الزئبق المعنية؟ على سبيل المثال: {examples}.",
        "assistance_types": "ما نوع المساعدة التي تحتاجونها؟ على سبيل المثال: {examples}.",
        "details": "اذكروا ما ينقص بالتحديد (المعدات أو المهارات أو التمويل أو البنية التحتية)، وأين، وعلى أي نطاق.",
        "budget_usd": "إن أمكن، اذكروا ميزانية تقديرية بدولارات الولايات المتحدة.",
    },
    "zh": {
        "intro": "为了找到合适的合作伙伴，请把您的请求写得更具体一些。",
        "sectors": "涉及哪一类汞问题？例如：{examples}。",
        "assistance_types": "您需要哪种帮助？例如：{examples}。",
        "details": "请说明具体缺少什么（设备、技能、资金还是基础设施），在什么地方，规模多大。",
        "budget_usd": "如有可能，请给出以美元计的预算估计。",
    },
}
_LIST_SEPARATOR = {"zh": "、", "ar": "، "}


class RequestReader:
    """Language detection, tagging and the vague check, sharing one tagger and detector."""

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        tagger: KeywordTagger | None = None,
        detector: LanguageDetector | None = None,
    ) -> None:
        self.taxonomy = taxonomy or load_taxonomy()
        self.tagger = tagger or KeywordTagger(self.taxonomy)
        self.detector = detector or default_detector()

    def read(
        self,
        title: str,
        description: str,
        language: str | None = None,
        sectors: Sequence[str] = (),
        assistance_types: Sequence[str] = (),
    ) -> Reading:
        """Detect the language when absent and infer the codes the Party did not state."""
        text = f"{title}. {description}"
        detected = language is None
        if detected:
            language = self.detector.detect(text)
        evidence = self.tagger.tag(text, language)
        return Reading(
            language=language,
            language_detected=detected,
            evidence=evidence,
            inferred_sectors=tuple(c for c in evidence.codes("sectors") if c not in sectors),
            inferred_assistance_types=tuple(
                c for c in evidence.codes("assistance_types") if c not in assistance_types
            ),
        )

    def assess(self, need: NeedQuery | NeedProfile, evidence: TagEvidence | None = None) -> Coaching:
        """The vague check and what to add. The verdict reads the need's content only (never
        its ranking: a flat ranking says nothing about what the Party wrote).

        Give the need's prepared ``NeedQuery`` (its tagging is reused), or a ``NeedProfile``
        with, when known, its ``evidence`` (this reader's tagger's reading of ``need.text``
        in ``need.language``; without it the text is tagged here).
        """
        if isinstance(need, NeedQuery):
            if evidence is not None:
                raise ValueError("a NeedQuery carries its own evidence: pass one or the other")
            profile, evidence, vagueness = need.need, need.evidence, need.vagueness
        else:
            profile = need
            if evidence is None:
                evidence = self.tagger.tag(need.text, need.language)
            vagueness = Vagueness.of(need, evidence)
        language = profile.language if profile.language in _MESSAGES else "en"
        check = vagueness.check()
        if not check.vague:
            return Coaching(False, language=language)
        missing = self._missing(profile, evidence, language, check.reasons)
        parts = _MESSAGES[language]
        lines = [parts["intro"]]
        separator = _LIST_SEPARATOR.get(language, ", ")
        for item in missing:
            template = parts[item["field"]]
            examples = [
                option["label"]
                for option in item.get("options", [])
                if item["field"] != "sectors" or option["code"] in EXAMPLE_SECTORS
            ]
            lines.append(template.format(examples=separator.join(examples)))
        return Coaching(True, check.reasons, tuple(missing), " ".join(lines), language)

    def _missing(
        self, need: NeedProfile, evidence: TagEvidence, language: str, reasons: Sequence[str]
    ) -> list[dict[str, Any]]:
        missing: list[dict[str, Any]] = []
        if not need.sectors:
            missing.append(
                {
                    "field": "sectors",
                    "options": [
                        {"code": code.code, "label": code.label_in(language)}
                        for code in self.taxonomy.sectors.values()
                        if code.code != GENERAL_SECTOR
                    ],
                }
            )
        if not need.assistance_types and not evidence.codes("assistance_types", CLEAR_TYPE_EVIDENCE):
            missing.append(
                {
                    "field": "assistance_types",
                    "options": [
                        {"code": code.code, "label": code.label_in(language)}
                        for code in self.taxonomy.assistance_types.values()
                    ],
                }
            )
        if GENERIC_WORDING in reasons:
            missing.append({"field": "details"})
        if need.budget_usd is None:
            missing.append({"field": "budget_usd"})
        return missing


@lru_cache(maxsize=1)
def default_reader() -> RequestReader:
    return RequestReader()

"""The words of e-mail notices: subjects and plain-text bodies.

A Party reads its notices in its request's language, so the Party's notices exist in all
six UN languages; notices to providers and to the secretariat are in English (the
catalogue's working language). Texts are ``str.format`` templates; the values put into
them (titles, names, links) are inserted as they are, never parsed again.

Fields: ``title`` and ``need_id`` (the request), ``link`` (absolute when
``MATCHER_PUBLIC_URL`` is set), ``programme``, ``offering_id`` and ``provider`` (the
programme and its provider's display name), ``party`` (the Party's English name),
``old_status``/``new_status`` (already translated), ``days``, ``next_steps`` (contact and
how to apply, already labelled), ``need_details`` (what a provider may read of the
request) and ``note``.
"""

from __future__ import annotations

from typing import Any

PARTY_LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")

# event -> language -> (subject, body)
PARTY: dict[str, dict[str, tuple[str, str]]] = {
    "need.received": {
        "en": (
            "Request received: {title}",
            'Your request "{title}" ({need_id}) has been received by the secretariat of the '
            "Minamata Convention.\n\n"
            "The secretariat will look for programmes that can help and will write to you when a "
            "proposal is accepted.\n\n"
            "Follow your request: {link}",
        ),
        "fr": (
            "Votre demande a bien été reçue : {title}",
            "Votre demande « {title} » ({need_id}) a bien été reçue par le secrétariat de la "
            "Convention de Minamata.\n\n"
            "Le secrétariat va rechercher des programmes susceptibles de vous aider et vous écrira dès "
            "qu'une proposition aura été acceptée.\n\n"
            "Suivre votre demande : {link}",
        ),
        "es": (
            "Hemos recibido su solicitud: {title}",
            "La secretaría del Convenio de Minamata ha recibido su solicitud «{title}» ({need_id}).\n\n"
            "La secretaría buscará programas que puedan ayudarle y le escribirá cuando se acepte una "
            "propuesta.\n\n"
            "Seguir su solicitud: {link}",
        ),
        "ar": (
            "تم استلام طلبكم: {title}",
            "تلقّت أمانة اتفاقية ميناماتا طلبكم «{title}» ({need_id}).\n\n"
            "ستبحث الأمانة عن برامج يمكنها تقديم المساعدة، وستكتب إليكم عند قبول أي مقترح.\n\n"
            "لمتابعة طلبكم: {link}",
        ),
        "zh": (
            "您的请求已收到：{title}",
            "《关于汞的水俣公约》秘书处已收到您的请求“{title}”（{need_id}）。\n\n"
            "秘书处将寻找能够提供帮助的方案，并在有提案获得接受时通知您。\n\n"
            "跟进您的请求：{link}",
        ),
        "ru": (
            "Ваш запрос получен: {title}",
            "Секретариат Минаматской конвенции получил ваш запрос «{title}» ({need_id}).\n\n"
            "Секретариат подберёт программы, которые могут помочь, и напишет вам, когда предложение "
            "будет принято.\n\n"
            "Следить за запросом: {link}",
        ),
    },
    "need.status": {
        "en": (
            "Status of your request changed: {title}",
            'The status of your request "{title}" ({need_id}) changed from "{old_status}" to '
            '"{new_status}".\n\n'
            "See your request: {link}",
        ),
        "fr": (
            "Le statut de votre demande a changé : {title}",
            "Le statut de votre demande « {title} » ({need_id}) est passé de « {old_status} » à "
            "« {new_status} ».\n\n"
            "Voir votre demande : {link}",
        ),
        "es": (
            "Cambió el estado de su solicitud: {title}",
            "El estado de su solicitud «{title}» ({need_id}) pasó de «{old_status}» a «{new_status}».\n\n"
            "Ver su solicitud: {link}",
        ),
        "ar": (
            "تغيّرت حالة طلبكم: {title}",
            "تغيّرت حالة طلبكم «{title}» ({need_id}) من «{old_status}» إلى «{new_status}».\n\n"
            "للاطلاع على طلبكم: {link}",
        ),
        "zh": (
            "您的请求状态已变更：{title}",
            "您的请求“{title}”（{need_id}）的状态已由“{old_status}”变更为“{new_status}”。\n\n"
            "查看您的请求：{link}",
        ),
        "ru": (
            "Статус вашего запроса изменился: {title}",
            "Статус вашего запроса «{title}» ({need_id}) изменился с «{old_status}» на «{new_status}».\n\n"
            "Открыть запрос: {link}",
        ),
    },
    "need.idle": {
        "en": (
            "Is your request still needed? {title}",
            'Nothing has happened on your request "{title}" ({need_id}) for {days} days.\n\n'
            "If you still need assistance, please confirm it on the request's page; if not, you can "
            "withdraw it there.\n\n"
            "Your request: {link}",
        ),
        "fr": (
            "Votre demande est-elle toujours d'actualité ? {title}",
            "Votre demande « {title} » ({need_id}) n'a connu aucune activité depuis {days} jours.\n\n"
            "Si vous avez toujours besoin d'assistance, merci de la confirmer sur la page de la demande ; "
            "sinon, vous pouvez l'y retirer.\n\n"
            "Votre demande : {link}",
        ),
        "es": (
            "¿Su solicitud sigue vigente? {title}",
            "Su solicitud «{title}» ({need_id}) no ha tenido actividad en {days} días.\n\n"
            "Si aún necesita asistencia, confírmela en la página de la solicitud; si no, puede retirarla "
            "allí.\n\n"
            "Su solicitud: {link}",
        ),
        "ar": (
            "هل ما زال طلبكم قائماً؟ {title}",
            "لم يطرأ أي جديد على طلبكم «{title}» ({need_id}) منذ {days} يوماً.\n\n"
            "إذا كنتم لا تزالون بحاجة إلى المساعدة، يُرجى تأكيد ذلك في صفحة الطلب؛ وإلا يمكنكم سحبه من "
            "الصفحة نفسها.\n\n"
            "طلبكم: {link}",
        ),
        "zh": (
            "您的请求是否仍然有效？{title}",
            "您的请求“{title}”（{need_id}）已有 {days} 天没有任何进展。\n\n"
            "如果您仍需要援助，请在请求页面上确认；如不再需要，可在该页面撤回请求。\n\n"
            "您的请求：{link}",
        ),
        "ru": (
            "Ваш запрос ещё актуален? {title}",
            "По вашему запросу «{title}» ({need_id}) ничего не происходило уже {days} дн.\n\n"
            "Если помощь всё ещё нужна, подтвердите это на странице запроса; если нет, там же его можно "
            "отозвать.\n\n"
            "Ваш запрос: {link}",
        ),
    },
    "proposal.accepted": {
        "en": (
            "A programme is proposed for your request: {title}",
            'The secretariat has accepted a proposal for your request "{title}" ({need_id}):\n\n'
            "    {programme} — {provider}\n\n"
            "The secretariat will put you in touch with the provider.\n\n"
            "Details: {link}",
        ),
        "fr": (
            "Un programme est proposé pour votre demande : {title}",
            "Le secrétariat a accepté une proposition pour votre demande « {title} » ({need_id}) :\n\n"
            "    {programme} — {provider}\n\n"
            "Le secrétariat vous mettra en relation avec le fournisseur.\n\n"
            "Détails : {link}",
        ),
        "es": (
            "Se propone un programa para su solicitud: {title}",
            "La secretaría ha aceptado una propuesta para su solicitud «{title}» ({need_id}):\n\n"
            "    {programme} — {provider}\n\n"
            "La secretaría le pondrá en contacto con el proveedor.\n\n"
            "Detalles: {link}",
        ),
        "ar": (
            "برنامج مقترح لطلبكم: {title}",
            "قبلت الأمانة مقترحاً لطلبكم «{title}» ({need_id}):\n\n"
            "    {programme} — {provider}\n\n"
            "ستتولى الأمانة ربطكم بالجهة المقدِّمة للبرنامج.\n\n"
            "التفاصيل: {link}",
        ),
        "zh": (
            "已为您的请求推荐方案：{title}",
            "秘书处已接受针对您的请求“{title}”（{need_id}）的一项提案：\n\n"
            "    {programme} — {provider}\n\n"
            "秘书处将为您与提供方建立联系。\n\n"
            "详情：{link}",
        ),
        "ru": (
            "Для вашего запроса предложена программа: {title}",
            "Секретариат принял предложение по вашему запросу «{title}» ({need_id}):\n\n"
            "    {programme} — {provider}\n\n"
            "Секретариат свяжет вас с организацией, которая её предоставляет.\n\n"
            "Подробнее: {link}",
        ),
    },
    "proposal.introduced": {
        "en": (
            "Introduced to {provider}: {title}",
            'The secretariat has introduced your request "{title}" ({need_id}) to {provider} for the '
            'programme "{programme}".\n\n'
            "{next_steps}"
            "Details: {link}",
        ),
        "fr": (
            "Mise en relation avec {provider} : {title}",
            "Le secrétariat a présenté votre demande « {title} » ({need_id}) à {provider} pour le "
            "programme « {programme} ».\n\n"
            "{next_steps}"
            "Détails : {link}",
        ),
        "es": (
            "Puesta en contacto con {provider}: {title}",
            "La secretaría ha presentado su solicitud «{title}» ({need_id}) a {provider} para el "
            "programa «{programme}».\n\n"
            "{next_steps}"
            "Detalles: {link}",
        ),
        "ar": (
            "تم ربطكم بـ{provider}: {title}",
            "عرّفت الأمانة {provider} بطلبكم «{title}» ({need_id}) في إطار البرنامج «{programme}».\n\n"
            "{next_steps}"
            "التفاصيل: {link}",
        ),
        "zh": (
            "已为您引荐{provider}：{title}",
            "秘书处已将您的请求“{title}”（{need_id}）引荐给{provider}，涉及方案“{programme}”。\n\n"
            "{next_steps}"
            "详情：{link}",
        ),
        "ru": (
            "Вас представили организации {provider}: {title}",
            "Секретариат представил ваш запрос «{title}» ({need_id}) организации {provider} по программе "
            "«{programme}».\n\n"
            "{next_steps}"
            "Подробнее: {link}",
        ),
    },
}

# The names of a need's statuses, for ``need.status``.
STATUS_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "draft": "draft",
        "submitted": "submitted",
        "in_review": "in review",
        "matched": "matched",
        "closed": "closed",
        "withdrawn": "withdrawn",
    },
    "fr": {
        "draft": "brouillon",
        "submitted": "soumise",
        "in_review": "en examen",
        "matched": "appariée",
        "closed": "close",
        "withdrawn": "retirée",
    },
    "es": {
        "draft": "borrador",
        "submitted": "enviada",
        "in_review": "en revisión",
        "matched": "emparejada",
        "closed": "cerrada",
        "withdrawn": "retirada",
    },
    "ar": {
        "draft": "مسودة",
        "submitted": "مقدَّم",
        "in_review": "قيد الاستعراض",
        "matched": "تمت المطابقة",
        "closed": "مغلق",
        "withdrawn": "مسحوب",
    },
    "zh": {
        "draft": "草稿",
        "submitted": "已提交",
        "in_review": "审核中",
        "matched": "已匹配",
        "closed": "已关闭",
        "withdrawn": "已撤回",
    },
    "ru": {
        "draft": "черновик",
        "submitted": "подан",
        "in_review": "на рассмотрении",
        "matched": "подобрана программа",
        "closed": "закрыт",
        "withdrawn": "отозван",
    },
}

# Labels of the lines of ``next_steps`` and the footer of every e-mail.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "colon": ": ",
        "contact": "Contact",
        "how_to_apply": "How to apply",
        "footer": "— Minamata Match, secretariat of the Minamata Convention on Mercury\n"
        "Notification settings: {account}",
    },
    "fr": {
        "colon": " : ",
        "contact": "Contact",
        "how_to_apply": "Comment présenter une demande",
        "footer": "— Minamata Match, secrétariat de la Convention de Minamata sur le mercure\n"
        "Réglages des avis : {account}",
    },
    "es": {
        "colon": ": ",
        "contact": "Contacto",
        "how_to_apply": "Cómo presentar una solicitud",
        "footer": "— Minamata Match, secretaría del Convenio de Minamata sobre el Mercurio\n"
        "Ajustes de avisos: {account}",
    },
    "ar": {
        "colon": ": ",
        "contact": "جهة الاتصال",
        "how_to_apply": "طريقة التقديم",
        "footer": "— Minamata Match، أمانة اتفاقية ميناماتا بشأن الزئبق\nإعدادات الإشعارات: {account}",
    },
    "zh": {
        "colon": "：",
        "contact": "联系方式",
        "how_to_apply": "申请方式",
        "footer": "— Minamata Match，《关于汞的水俣公约》秘书处\n通知设置：{account}",
    },
    "ru": {
        "colon": ": ",
        "contact": "Контакт",
        "how_to_apply": "Как подать заявку",
        "footer": "— Minamata Match, секретариат Минаматской конвенции о ртути\n"
        "Настройки уведомлений: {account}",
    },
}

# language -> (subject, first paragraph) of the daily digest.
DIGEST: dict[str, tuple[str, str]] = {
    "en": (
        "Minamata Match: your daily digest ({count} notices)",
        "Here are the notices of the past day, gathered into one message as you asked.",
    ),
    "fr": (
        "Minamata Match : votre récapitulatif quotidien ({count} avis)",
        "Voici les avis de la dernière journée, regroupés en un seul message comme vous l'avez demandé.",
    ),
    "es": (
        "Minamata Match: su resumen diario ({count} avisos)",
        "Estos son los avisos del último día, reunidos en un solo mensaje como lo pidió.",
    ),
    "ar": (
        "Minamata Match: موجزكم اليومي ({count} إشعارات)",
        "إليكم إشعارات اليوم الماضي مجمّعة في رسالة واحدة كما طلبتم.",
    ),
    "zh": (
        "Minamata Match：您的每日摘要（{count} 条通知）",
        "以下是过去一天的通知，已按您的要求汇总为一封邮件。",
    ),
    "ru": (
        "Minamata Match: ваша ежедневная сводка (уведомлений: {count})",
        "Ниже собраны уведомления за прошедшие сутки — одним письмом, как вы просили.",
    ),
}

# Notices to a provider (English): event -> (subject, body).
PROVIDER: dict[str, tuple[str, str]] = {
    "proposal.accepted": (
        "Your programme was proposed for a request: {programme}",
        'The secretariat has accepted a proposal that pairs your programme "{programme}" ({offering_id}) '
        "with a request from {party}:\n\n"
        "    {title}\n\n"
        "{need_details}"
        "The secretariat will introduce you to the Party.\n\n"
        "Details: {link}",
    ),
    "proposal.introduced": (
        "Introduction: {party}, {title}",
        'The secretariat has introduced {party} to you about their request "{title}", for your '
        'programme "{programme}" ({offering_id}).\n\n'
        "{need_details}"
        "You may now correspond with the Party directly.\n\n"
        "Details: {link}",
    ),
    "need.fits_programme": (
        "A new request may fit your programme: {programme}",
        'A new request from {party} may fit your programme "{programme}" ({offering_id}):\n\n'
        "    {title}\n\n"
        "{need_details}"
        "The secretariat reviews every proposal before anyone is introduced. If you are interested, "
        "say so on the request's page: {link}",
    ),
}

# Notices to the secretariat (English): event -> (subject, body).
SECRETARIAT: dict[str, tuple[str, str]] = {
    "interest.expressed": (
        "Interest expressed: {provider} for {title}",
        '{provider} expressed interest in the request "{title}" ({need_id}) from {party}, for its '
        'programme "{programme}" ({offering_id}).\n\n'
        "{note}"
        "Review the request: {link}",
    ),
}

CONFIDENTIAL_FOR_PROVIDERS = "The request is confidential: only its title and Party are shared.\n\n"
DESCRIPTION_LIMIT = 1500


def party_text(event: str, language: str, fields: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of a Party's notice in ``language`` (English when the language has none)."""
    subject, body = PARTY[event].get(language, PARTY[event]["en"])
    return subject.format(**fields), body.format(**fields)


def provider_text(event: str, fields: dict[str, Any]) -> tuple[str, str]:
    subject, body = PROVIDER[event]
    return subject.format(**fields), body.format(**fields)


def secretariat_text(event: str, fields: dict[str, Any]) -> tuple[str, str]:
    subject, body = SECRETARIAT[event]
    return subject.format(**fields), body.format(**fields)


def status_name(language: str, status: str) -> str:
    return STATUS_NAMES.get(language, STATUS_NAMES["en"]).get(status, status)


def label(language: str, name: str) -> str:
    return LABELS.get(language, LABELS["en"])[name]


def next_steps(language: str, contact: str | None, how_to_apply: str | None) -> str:
    """The programme's contact and how to apply, labelled, as a paragraph (empty when neither)."""
    lines = [
        f"{label(language, name)}{label(language, 'colon')}{value.strip()}"
        for name, value in (("contact", contact), ("how_to_apply", how_to_apply))
        if value and value.strip()
    ]
    return "\n".join(lines) + "\n\n" if lines else ""


def need_details_for_provider(description: str | None, budget_usd: float | None, confidential: bool) -> str:
    """What a provider may read of a request beyond its title and Party: the description
    (shortened) and the budget, or, for a confidential request, a line saying it is."""
    if confidential:
        return CONFIDENTIAL_FOR_PROVIDERS
    text = (description or "").strip()
    if len(text) > DESCRIPTION_LIMIT:
        text = text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
    parts = [text] if text else []
    if budget_usd is not None:
        parts.append(f"Indicative budget: USD {budget_usd:,.0f}")
    return "\n\n".join(parts) + "\n\n" if parts else ""


def footer(language: str, account_link: str) -> str:
    return label(language, "footer").format(account=account_link)


def digest_text(language: str, notices: list[tuple[str, str]]) -> tuple[str, str]:
    """Subject and body of a digest gathering ``notices`` (subject, body) in ``language``."""
    subject, opening = DIGEST.get(language, DIGEST["en"])
    sections = [f"{opening}"]
    for number, (notice_subject, notice_body) in enumerate(notices, start=1):
        sections.append(f"{number}. {notice_subject}\n\n{notice_body}")
    return subject.format(count=len(notices)), "\n\n\n".join(sections)

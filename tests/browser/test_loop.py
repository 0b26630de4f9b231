"""The request-to-result loop end to end in Chromium, with a real SMTP server receiving the notices.

A Party files a request in French and changes it after the coaching; a provider's new
programme is verified by the secretariat; the provider sees the request among the open
requests that fit and expresses interest; the secretariat sees it and accepts the proposal; the Party
sees the accepted programme with its link and next step and no score internals; and every
notice the outbox holds arrives at the SMTP server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from evaluation.server import create_key, environment_for, serving
from matcher.store.models import Outbox
from tests.browser.conftest import FAKE, Site, axe_script, need_id_from
from tests.smtp import SmtpServer

pytestmark = pytest.mark.slow  # a real server process and SMTP server, driven in Chromium

TITLE = "Collecte des lampes fluorescentes usagées à Dakar"
FIRST = "Nous manquons de moyens pour gérer les lampes fluorescentes usagées."
SECOND = (
    "Les communes de Dakar veulent collecter les lampes fluorescentes usagées contenant du mercure "
    "dans 40 points de collecte et les stocker de façon sûre avant leur traitement."
)
PROGRAMME = "Collecte des lampes fluorescentes à Dakar"


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[tuple[Site, SmtpServer, Path]]:
    smtp = SmtpServer().start()
    data_dir = tmp_path_factory.mktemp("loop")
    environment = environment_for(
        data_dir,
        {**FAKE, "MATCHER_SMTP_URL": smtp.url, "MATCHER_NOTIFY_POLL_SECONDS": "0.2"},
    )
    keys = {
        "secretariat": create_key(environment, "--role", "secretariat", "--email", "desk@secretariat.test"),
        "party": create_key(
            environment, "--role", "party", "--party", "SEN", "--email", "focal@senegal.test"
        ),
        "provider": create_key(
            environment, "--role", "provider", "--provider", "unep", "--email", "grants@unep.test"
        ),
    }
    try:
        with serving(environment, timeout=180) as base:
            yield Site(base, keys, axe_script(), chromium), smtp, data_dir
    finally:
        smtp.stop()


def test_the_loop_from_request_to_result(loop: tuple[Site, SmtpServer, Path]) -> None:
    site, smtp, data_dir = loop
    errors: list[str] = []

    # The provider adds a programme written for such requests; it starts unverified.
    provider = site.page("provider", errors)
    provider.goto(f"{site.base}/programmes/new")
    provider.get_by_label("Provider", exact=True).fill("UNEP")
    provider.get_by_label("Title").fill(PROGRAMME)
    provider.get_by_label("Description").fill(
        "Collecte des lampes fluorescentes usagées contenant du mercure à Dakar : points de collecte, "
        "stockage sûr et traitement, pour les communes du Sénégal."
    )
    provider.get_by_label("Mercury-added products").check()
    provider.get_by_label("Web page").fill("https://example.org/lamps-dakar")
    provider.get_by_label("How to apply").fill("Send a two-page concept note to the programme office.")
    provider.get_by_role("button", name="Save").click()
    provider.wait_for_load_state()
    assert "Unverified programme" in provider.locator("article.card", has_text=PROGRAMME).inner_text()

    # The secretariat verifies it.
    staff = site.page("secretariat", errors)
    staff.goto(f"{site.base}/verification")
    staff.locator("article.card", has_text=PROGRAMME).get_by_role("button", name="Verify").click()
    staff.wait_for_load_state()
    assert staff.locator("article.card", has_text=PROGRAMME).count() == 0

    # The Party files in French, reads the coaching, then makes the request specific.
    party = site.page("party", errors)
    party.goto(f"{site.base}/language/fr?next=/requests/new")
    party.get_by_label("Titre").fill(TITLE)
    party.get_by_label("Description").fill(FIRST)
    party.get_by_role("button", name="Vérifier ma demande").click()
    assert party.locator("section.coaching").is_visible()
    party.get_by_role("button", name="Envoyer la demande").click()
    party.wait_for_url("**/needs/need-*")
    need = need_id_from(party.url)
    party.get_by_role("link", name="Modifier la demande").click()
    party.get_by_label("Description").fill(SECOND)
    party.get_by_role("button", name="Vérifier ma demande").click()
    party.get_by_role("button", name="Enregistrer les modifications").click()
    party.wait_for_url(f"**/needs/{need}*")
    assert SECOND in party.locator(".original").inner_text()

    # The provider sees the request among those that fit and expresses interest.
    provider.goto(f"{site.base}/programmes")
    provider.locator("article.card", has_text=PROGRAMME).get_by_role(
        "link", name="Open requests that fit"
    ).click()
    fitting = provider.locator("article.card", has_text=TITLE)
    assert fitting.count() == 1, provider.locator("main").inner_text()[:3000]
    fitting.get_by_label("Note to the secretariat").fill("We can start in March.")
    fitting.get_by_role("button", name="Express interest").click()
    provider.wait_for_load_state()
    assert "Interest sent" in provider.locator("article.card", has_text=TITLE).inner_text()

    # Proposals are there without any run; the secretariat sees the interest and accepts.
    staff.goto(f"{site.base}/needs/{need}")
    assert "We can start in March." in staff.locator("main").inner_text()
    row = staff.locator("li.proposal", has_text=PROGRAMME)
    assert row.count() == 1, staff.locator("li.proposal .programme-title").all_inner_texts()
    row.get_by_role("button", name="Accept").click()
    staff.wait_for_load_state()
    assert staff.locator("li.proposal", has_text=PROGRAMME).get_attribute("data-state") == "accepted"

    # The Party sees the accepted programme: its link and next step, no score internals.
    party.goto(f"{site.base}/needs/{need}")
    accepted = party.locator("article.programme", has_text=PROGRAMME)
    assert accepted.count() == 1
    shown = accepted.inner_text()
    assert "https://example.org/lamps-dakar" in shown and "Prochaine étape" in shown
    assert "Send a two-page concept note" in shown
    assert party.locator("figure.bars").count() == 0 and "Score" not in shown

    for page in (provider, staff, party):
        page.context.close()
    assert errors == []

    # Every notice queued in the outbox reaches the SMTP server (the sender polls every 0.2 s).
    engine = create_engine(f"sqlite:///{data_dir / 'matcher.sqlite3'}")
    deadline = time.monotonic() + 20
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Outbox.message_id, Outbox.event, Outbox.recipient, Outbox.sent_at)
            ).all()
        received = smtp.message_ids()
        if (rows and all(row.message_id in received for row in rows)) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    engine.dispose()
    events = {(row.event, row.recipient) for row in rows}
    assert ("need.received", "focal@senegal.test") in events
    assert ("proposal.accepted", "focal@senegal.test") in events
    assert ("proposal.accepted", "grants@unep.test") in events
    assert ("interest.expressed", "desk@secretariat.test") in events
    assert ("need.fits_programme", "grants@unep.test") in events
    missing = [row for row in rows if row.message_id not in received]
    assert missing == [], missing
    french = [item for item in smtp.to("focal@senegal.test") if TITLE in item.body]
    assert french and all("demande" in item.body.lower() for item in french)

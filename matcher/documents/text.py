"""Words of the needs-assessment document in English, French and Spanish.

Codes (sectors, assistance types, regions) are labelled from the taxonomy and challenge
kinds from ``catalog/data/challenge_kinds.json``, both in six languages; these are the
document's own words. A language is added by adding its dictionary here.
"""

from __future__ import annotations

DOCUMENT_LANGUAGES: tuple[str, ...] = ("en", "fr", "es")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Assessment of Parties' needs for assistance and technology transfer",
        "subtitle": "Minamata Convention on Mercury, Article 14(4): synthesis of national reports, "
        "the needs survey and the matchmaking service",
        "period_range": "Period: {start} to {end}",
        "period_all": "Period: every record up to {end}",
        "generated": "Generated on {date} from the database alone ({dialect}). Every figure can be "
        "reproduced with the query given for it in the method annex.",
        "demo_note": "This document includes {count} example records of the demonstration data; "
        "remove them with `matcher demo remove` before using it.",
        "contents": "Contents",
        "s_sources": "1. Sources and coverage",
        "s_needs": "2. Needs",
        "s_vague": "3. Vague statements and coaching",
        "s_matching": "4. Proposals, introductions and outcomes",
        "s_unmet": "5. Unmet needs and supply gaps",
        "s_change": "6. Change since the previous period",
        "s_annex": "Annex: method and queries",
        "sources_intro": "The assessment counts statements of need: answers to national reports "
        "(Article 21), responses to the needs survey, and requests filed directly by Parties. "
        "{statements} statements from {parties} Parties were recorded in the period.",
        "coverage_intro": "Parties that made at least one statement, by region, with the least "
        "developed countries (LDC) and small island developing States (SIDS) among them: "
        "{ldc} of {ldc_all} LDCs and {sids} of {sids_all} SIDS.",
        "needs_intro": "A statement counts under every sector and assistance type it states or "
        "implies, so the rows of those two tables add up to more than the number of statements.",
        "vague_intro": "{vague} of {statements} statements ({share}) name no concrete subject "
        "(no mercury source, process, product, site, waste stream or affected population).",
        "coached_intro": "Of {filed} requests filed in vague terms, {specific} became specific "
        "after the coaching the workbench gives (their latest version is no longer vague).",
        "matching_intro": "In the period, {proposals} proposals were made, the secretariat accepted "
        "{accepted} and made {introduced} introductions (each step counted on the day it was taken).",
        "mobilised_intro": "Amounts mobilised, as recorded for funded introductions:",
        "mobilised_none": "No amount mobilised has been recorded yet.",
        "unmet_intro": "Of {open} open needs today, {unmet} are unmet: no good match in the "
        "catalogue (best proposal below {threshold}), no acceptance after {after_days} days, or "
        "not yet matched.",
        "supply_intro": "Active, verified programmes covering each sector in each region. A cell "
        "with none is a supply gap; the number in brackets is the statements of need about that "
        "sector from that region.",
        "supply_gaps": "Supply gaps (sector × region with no programme): {gaps}.",
        "supply_gaps_demand": "Gaps with demand:",
        "change_intro": "The same figures for the {days} days before the period ({start} to {end}).",
        "change_none": "No previous period: give --from to compare with the period of the same "
        "length before it.",
        "annex_intro": "Each table is the result of the query shown, run on the database the "
        "document was generated from ({dialect}). Queries on statements read the statements "
        "query A.1 as the table 'statements'.",
        "def_statement": "Statement of need: a national-report answer, a survey response, or a "
        "request filed directly (a request made from an answer counts once, as the answer; a "
        "draft never counts). It counts in the period of the day it was recorded.",
        "def_challenge": "Challenge kind: what the statement says is missing, read by the "
        "product's cue lists in six languages (catalog/data/challenge_kinds.json).",
        "def_vague": "Vague: the product's vague-request check (no sector stated or clearly "
        "evident, and generic wording), applied when the statement is recorded.",
        "rule_coached": "Rule applied to the rows: each need's versions are rebuilt from its "
        "audit events (need.create, then each need.update); a need counts as filed vague when the "
        "vague check finds its first version vague, and as become specific when its latest "
        "version is not vague.",
        "rule_unmet": "Rule applied to the rows: an open need is unmet when it has no proposal "
        "yet, when its best proposal (rejected and closed ones aside) scores below the threshold, "
        "or when none was accepted after the given number of days (services/reports.py).",
        "rule_supply": "A programme covers a region it lists, or every region when it restricts "
        "neither regions nor countries; programmes open to a few countries cover no whole region.",
        "statements_query": "A.1 Statements of need in the period",
        "query_of": "Query",
        "total_query": "Total",
        "t_sources": "Statements by source",
        "t_cycles": "Answers by reporting cycle",
        "t_coverage": "Parties answering, by region",
        "t_by_sector": "Statements by sector (Convention article)",
        "t_by_type": "Statements by assistance type",
        "t_by_challenge": "Statements by challenge kind",
        "t_by_region": "Statements by region",
        "t_by_language": "Statements by language",
        "t_vagueness": "Vague statements by source",
        "t_coached": "Requests filed vague and made specific",
        "t_steps": "Steps taken in the period",
        "c_step": "Step",
        "step_proposed": "proposals made",
        "step_accepted": "accepted by the secretariat",
        "step_rejected": "rejected, with a reason",
        "step_introduced": "introductions made",
        "step_outcome": "outcomes recorded",
        "step_funded": "funded",
        "t_proposals": "Proposals made in the period, by their state today",
        "t_outcomes": "Recorded outcomes of introductions",
        "t_mobilised": "Amounts mobilised",
        "t_unmet": "Unmet open needs by reason",
        "t_supply": "Programmes by sector and region",
        "t_change": "Change since the previous period",
        "t_demo": "Example records",
        "c_source": "Source",
        "c_statements": "Statements",
        "c_parties": "Parties",
        "c_cycle": "Cycle",
        "c_region": "Region",
        "c_answering": "Parties answering",
        "c_parties_in_region": "Parties in region",
        "c_coverage": "Coverage",
        "c_ldc": "LDC answering",
        "c_sids": "SIDS answering",
        "c_sector": "Sector",
        "c_article": "Article",
        "c_assistance_type": "Assistance type",
        "c_challenge_kind": "Challenge kind",
        "c_vague": "Vague",
        "c_share": "Share",
        "c_language": "Language",
        "c_state": "State",
        "c_proposals": "Proposals",
        "c_outcome": "Outcome",
        "c_currency": "Currency",
        "c_amount": "Amount",
        "c_reason": "Reason",
        "c_needs": "Needs",
        "c_measure": "Measure",
        "c_previous": "Previous period",
        "c_current": "This period",
        "c_change": "Change",
        "total": "Total",
        "total_statements": "Statements with at least one",
        "not_determined": "not determined",
        "source_report": "National reports (Article 21)",
        "source_survey": "Needs survey",
        "source_need": "Requests filed directly",
        "state_proposed": "proposed, awaiting review",
        "state_accepted": "accepted",
        "state_rejected": "rejected",
        "state_introduced": "introduced",
        "state_closed": "closed undecided",
        "outcome_agreed": "agreed",
        "outcome_funded": "funded",
        "outcome_declined": "declined",
        "outcome_no-response": "no response",
        "reason_no_good_match": "no good match in the catalogue",
        "reason_waiting": "waiting for a decision",
        "reason_not_yet_matched": "not yet matched",
        "measure_statements": "Statements of need",
        "measure_parties": "Parties answering",
        "measure_vague_share": "Share of vague statements",
        "measure_proposals": "Proposals",
        "measure_accepted": "Proposals accepted",
        "measure_introduced": "Introductions",
        "measure_funded": "Introductions funded",
        "measure_filed_vague": "Filed in vague terms",
        "measure_became_specific": "Made specific after coaching",
        "demo_true": "examples (demonstration data)",
        "demo_false": "real records",
        "gap": "gap",
        "chart_sectors": "Statements of need by sector",
        "chart_challenges": "Statements by challenge kind (vague in light colour)",
        "chart_coverage": "Parties answering, by region",
        "chart_funnel": "From proposal to outcome",
        "chart_supply": "Programmes by sector and region (0 = supply gap)",
        "legend_answering": "answering",
        "legend_parties": "Parties",
        "legend_specific": "specific",
        "legend_vague": "vague",
        "language_ar": "Arabic",
        "language_zh": "Chinese",
        "language_en": "English",
        "language_fr": "French",
        "language_ru": "Russian",
        "language_es": "Spanish",
        "page": "Page",
    },
    "fr": {
        "title": "Évaluation des besoins d'assistance et de transfert de technologies des Parties",
        "subtitle": "Convention de Minamata sur le mercure, article 14, paragraphe 4 : synthèse des "
        "rapports nationaux, de l'enquête sur les besoins et du service de mise en relation",
        "period_range": "Période : du {start} au {end}",
        "period_all": "Période : tous les enregistrements jusqu'au {end}",
        "generated": "Établi le {date} à partir de la seule base de données ({dialect}). Chaque "
        "chiffre peut être reproduit par la requête indiquée dans l'annexe méthodologique.",
        "demo_note": "Ce document comprend {count} enregistrements d'exemple des données de "
        "démonstration ; supprimez-les avec `matcher demo remove` avant de l'utiliser.",
        "contents": "Table des matières",
        "s_sources": "1. Sources et couverture",
        "s_needs": "2. Besoins",
        "s_vague": "3. Déclarations imprécises et accompagnement",
        "s_matching": "4. Propositions, mises en relation et résultats",
        "s_unmet": "5. Besoins non satisfaits et lacunes de l'offre",
        "s_change": "6. Évolution depuis la période précédente",
        "s_annex": "Annexe : méthode et requêtes",
        "sources_intro": "L'évaluation dénombre les déclarations de besoins : réponses aux "
        "rapports nationaux (article 21), réponses à l'enquête sur les besoins et demandes "
        "déposées directement par les Parties. {statements} déclarations de {parties} Parties "
        "ont été enregistrées pendant la période.",
        "coverage_intro": "Parties ayant fait au moins une déclaration, par région, dont les pays "
        "les moins avancés (PMA) et les petits États insulaires en développement (PEID) : "
        "{ldc} PMA sur {ldc_all} et {sids} PEID sur {sids_all}.",
        "needs_intro": "Une déclaration compte sous chaque secteur et chaque type d'assistance "
        "qu'elle énonce ou implique : les lignes de ces deux tableaux totalisent donc plus que le "
        "nombre de déclarations.",
        "vague_intro": "{vague} déclarations sur {statements} ({share}) ne nomment aucun objet "
        "concret (ni source de mercure, ni procédé, produit, site, flux de déchets ou population "
        "touchée).",
        "coached_intro": "Sur {filed} demandes déposées en termes imprécis, {specific} sont devenues "
        "précises après l'accompagnement proposé par l'outil (leur dernière version n'est plus "
        "imprécise).",
        "matching_intro": "Pendant la période, {proposals} propositions ont été faites, le "
        "secrétariat en a accepté {accepted} et a fait {introduced} mises en relation (chaque étape "
        "est comptée le jour où elle a été franchie).",
        "mobilised_intro": "Montants mobilisés, tels qu'enregistrés pour les mises en relation financées :",
        "mobilised_none": "Aucun montant mobilisé n'a encore été enregistré.",
        "unmet_intro": "Sur {open} besoins ouverts aujourd'hui, {unmet} ne sont pas satisfaits : "
        "aucune proposition adéquate dans le catalogue (meilleure proposition inférieure à "
        "{threshold}), aucune acceptation après {after_days} jours, ou pas encore de proposition.",
        "supply_intro": "Programmes actifs et vérifiés couvrant chaque secteur dans chaque région. "
        "Une case vide de programme est une lacune de l'offre ; le nombre entre parenthèses est "
        "celui des déclarations de besoins portant sur ce secteur dans cette région.",
        "supply_gaps": "Lacunes de l'offre (secteur × région sans programme) : {gaps}.",
        "supply_gaps_demand": "Lacunes pour lesquelles il existe une demande :",
        "change_intro": "Les mêmes chiffres pour les {days} jours précédant la période (du {start} "
        "au {end}).",
        "change_none": "Pas de période précédente : indiquez --from pour comparer avec la période "
        "de même durée qui la précède.",
        "annex_intro": "Chaque tableau est le résultat de la requête indiquée, exécutée sur la base "
        "de données d'où provient le document ({dialect}). Les requêtes sur les déclarations lisent "
        "la requête A.1 comme la table « statements ».",
        "def_statement": "Déclaration de besoins : une réponse à un rapport national, une réponse "
        "à l'enquête ou une demande déposée directement (une demande tirée d'une réponse compte "
        "une fois, comme réponse ; un brouillon ne compte jamais). Elle compte dans la période du "
        "jour de son enregistrement.",
        "def_challenge": "Nature de la difficulté : ce qui, selon la déclaration, fait défaut, lu à "
        "l'aide des listes d'indices du produit en six langues (catalog/data/challenge_kinds.json).",
        "def_vague": "Imprécise : le contrôle des demandes imprécises du produit (aucun secteur "
        "indiqué ou clairement repérable, et formulation générale), appliqué à l'enregistrement.",
        "rule_coached": "Règle appliquée aux lignes : les versions de chaque besoin sont "
        "reconstituées à partir de son journal d'audit (need.create, puis chaque need.update) ; un "
        "besoin compte comme déposé en termes imprécis si le contrôle juge sa première version "
        "imprécise, et comme devenu précis si sa dernière version ne l'est plus.",
        "rule_unmet": "Règle appliquée aux lignes : un besoin ouvert n'est pas satisfait s'il n'a "
        "encore aucune proposition, si sa meilleure proposition (hors rejetées et closes) a un "
        "score inférieur au seuil, ou si aucune n'a été acceptée après le nombre de jours indiqué "
        "(services/reports.py).",
        "rule_supply": "Un programme couvre une région qu'il mentionne, ou toutes les régions s'il "
        "ne restreint ni les régions ni les pays ; un programme ouvert à quelques pays ne couvre "
        "aucune région entière.",
        "statements_query": "A.1 Déclarations de besoins de la période",
        "query_of": "Requête",
        "total_query": "Total",
        "t_sources": "Déclarations par source",
        "t_cycles": "Réponses par cycle de rapport",
        "t_coverage": "Parties ayant répondu, par région",
        "t_by_sector": "Déclarations par secteur (article de la Convention)",
        "t_by_type": "Déclarations par type d'assistance",
        "t_by_challenge": "Déclarations par nature de la difficulté",
        "t_by_region": "Déclarations par région",
        "t_by_language": "Déclarations par langue",
        "t_vagueness": "Déclarations imprécises par source",
        "t_coached": "Demandes déposées en termes imprécis puis précisées",
        "t_steps": "Étapes franchies pendant la période",
        "c_step": "Étape",
        "step_proposed": "propositions faites",
        "step_accepted": "acceptées par le secrétariat",
        "step_rejected": "rejetées, avec un motif",
        "step_introduced": "mises en relation faites",
        "step_outcome": "résultats enregistrés",
        "step_funded": "financées",
        "t_proposals": "Propositions faites pendant la période, selon leur état actuel",
        "t_outcomes": "Résultats enregistrés des mises en relation",
        "t_mobilised": "Montants mobilisés",
        "t_unmet": "Besoins ouverts non satisfaits, par motif",
        "t_supply": "Programmes par secteur et par région",
        "t_change": "Évolution depuis la période précédente",
        "t_demo": "Enregistrements d'exemple",
        "c_source": "Source",
        "c_statements": "Déclarations",
        "c_parties": "Parties",
        "c_cycle": "Cycle",
        "c_region": "Région",
        "c_answering": "Parties ayant répondu",
        "c_parties_in_region": "Parties de la région",
        "c_coverage": "Couverture",
        "c_ldc": "PMA ayant répondu",
        "c_sids": "PEID ayant répondu",
        "c_sector": "Secteur",
        "c_article": "Article",
        "c_assistance_type": "Type d'assistance",
        "c_challenge_kind": "Nature de la difficulté",
        "c_vague": "Imprécises",
        "c_share": "Part",
        "c_language": "Langue",
        "c_state": "État",
        "c_proposals": "Propositions",
        "c_outcome": "Résultat",
        "c_currency": "Monnaie",
        "c_amount": "Montant",
        "c_reason": "Motif",
        "c_needs": "Besoins",
        "c_measure": "Indicateur",
        "c_previous": "Période précédente",
        "c_current": "Cette période",
        "c_change": "Évolution",
        "total": "Total",
        "total_statements": "Déclarations en comportant au moins un",
        "not_determined": "indéterminée",
        "source_report": "Rapports nationaux (article 21)",
        "source_survey": "Enquête sur les besoins",
        "source_need": "Demandes déposées directement",
        "state_proposed": "proposée, en attente d'examen",
        "state_accepted": "acceptée",
        "state_rejected": "rejetée",
        "state_introduced": "mise en relation faite",
        "state_closed": "close sans décision",
        "outcome_agreed": "accord",
        "outcome_funded": "financé",
        "outcome_declined": "refusé",
        "outcome_no-response": "sans réponse",
        "reason_no_good_match": "aucune proposition adéquate dans le catalogue",
        "reason_waiting": "en attente de décision",
        "reason_not_yet_matched": "pas encore de proposition",
        "measure_statements": "Déclarations de besoins",
        "measure_parties": "Parties ayant répondu",
        "measure_vague_share": "Part des déclarations imprécises",
        "measure_proposals": "Propositions",
        "measure_accepted": "Propositions acceptées",
        "measure_introduced": "Mises en relation",
        "measure_funded": "Mises en relation financées",
        "measure_filed_vague": "Déposées en termes imprécis",
        "measure_became_specific": "Précisées après accompagnement",
        "demo_true": "exemples (données de démonstration)",
        "demo_false": "enregistrements réels",
        "gap": "lacune",
        "chart_sectors": "Déclarations de besoins par secteur",
        "chart_challenges": "Déclarations par nature de la difficulté (imprécises en clair)",
        "chart_coverage": "Parties ayant répondu, par région",
        "chart_funnel": "De la proposition au résultat",
        "chart_supply": "Programmes par secteur et par région (0 = lacune de l'offre)",
        "legend_answering": "ayant répondu",
        "legend_parties": "Parties",
        "legend_specific": "précises",
        "legend_vague": "imprécises",
        "language_ar": "arabe",
        "language_zh": "chinois",
        "language_en": "anglais",
        "language_fr": "français",
        "language_ru": "russe",
        "language_es": "espagnol",
        "page": "Page",
    },
    "es": {
        "title": "Evaluación de las necesidades de asistencia y transferencia de tecnología de las Partes",
        "subtitle": "Convenio de Minamata sobre el Mercurio, artículo 14, párrafo 4: síntesis de los "
        "informes nacionales, la encuesta sobre necesidades y el servicio de vinculación",
        "period_range": "Período: del {start} al {end}",
        "period_all": "Período: todos los registros hasta el {end}",
        "generated": "Generado el {date} solo a partir de la base de datos ({dialect}). Cada cifra "
        "puede reproducirse con la consulta indicada en el anexo metodológico.",
        "demo_note": "Este documento incluye {count} registros de ejemplo de los datos de "
        "demostración; elimínelos con `matcher demo remove` antes de usarlo.",
        "contents": "Índice",
        "s_sources": "1. Fuentes y cobertura",
        "s_needs": "2. Necesidades",
        "s_vague": "3. Declaraciones imprecisas y orientación",
        "s_matching": "4. Propuestas, presentaciones y resultados",
        "s_unmet": "5. Necesidades no atendidas y vacíos de oferta",
        "s_change": "6. Cambios respecto del período anterior",
        "s_annex": "Anexo: método y consultas",
        "sources_intro": "La evaluación cuenta declaraciones de necesidades: respuestas a los "
        "informes nacionales (artículo 21), respuestas a la encuesta sobre necesidades y "
        "solicitudes presentadas directamente por las Partes. En el período se registraron "
        "{statements} declaraciones de {parties} Partes.",
        "coverage_intro": "Partes que hicieron al menos una declaración, por región, entre ellas "
        "los países menos adelantados (PMA) y los pequeños Estados insulares en desarrollo "
        "(PEID): {ldc} de {ldc_all} PMA y {sids} de {sids_all} PEID.",
        "needs_intro": "Una declaración cuenta en cada sector y tipo de asistencia que indica o "
        "implica, por lo que las filas de esos dos cuadros suman más que el número de "
        "declaraciones.",
        "vague_intro": "{vague} de {statements} declaraciones ({share}) no nombran ningún objeto "
        "concreto (ni fuente de mercurio, proceso, producto, sitio, flujo de desechos o población "
        "afectada).",
        "coached_intro": "De {filed} solicitudes presentadas en términos imprecisos, {specific} se "
        "volvieron concretas tras la orientación que ofrece la herramienta (su última versión ya "
        "no es imprecisa).",
        "matching_intro": "En el período se hicieron {proposals} propuestas, la secretaría aceptó "
        "{accepted} e hizo {introduced} presentaciones (cada paso se cuenta el día en que se dio).",
        "mobilised_intro": "Montos movilizados, según lo registrado para las presentaciones financiadas:",
        "mobilised_none": "Aún no se ha registrado ningún monto movilizado.",
        "unmet_intro": "De {open} necesidades abiertas hoy, {unmet} no están atendidas: ninguna "
        "propuesta adecuada en el catálogo (mejor propuesta por debajo de {threshold}), ninguna "
        "aceptación después de {after_days} días, o aún sin propuestas.",
        "supply_intro": "Programas activos y verificados que cubren cada sector en cada región. "
        "Una celda sin programas es un vacío de oferta; el número entre paréntesis es el de "
        "declaraciones de necesidades sobre ese sector en esa región.",
        "supply_gaps": "Vacíos de oferta (sector × región sin programas): {gaps}.",
        "supply_gaps_demand": "Vacíos con demanda:",
        "change_intro": "Las mismas cifras para los {days} días anteriores al período (del {start} "
        "al {end}).",
        "change_none": "No hay período anterior: indique --from para comparar con el período de "
        "la misma duración que lo precede.",
        "annex_intro": "Cada cuadro es el resultado de la consulta indicada, ejecutada en la base "
        "de datos de la que procede el documento ({dialect}). Las consultas sobre declaraciones "
        "leen la consulta A.1 como la tabla «statements».",
        "def_statement": "Declaración de necesidades: una respuesta a un informe nacional, una "
        "respuesta a la encuesta o una solicitud presentada directamente (una solicitud creada a "
        "partir de una respuesta cuenta una vez, como respuesta; un borrador nunca cuenta). Cuenta "
        "en el período del día en que se registró.",
        "def_challenge": "Tipo de dificultad: lo que, según la declaración, falta, leído con las "
        "listas de indicios del producto en seis idiomas (catalog/data/challenge_kinds.json).",
        "def_vague": "Imprecisa: el control de solicitudes imprecisas del producto (ningún sector "
        "indicado o claramente reconocible, y redacción general), aplicado al registrarla.",
        "rule_coached": "Regla aplicada a las filas: las versiones de cada necesidad se "
        "reconstruyen a partir de sus eventos de auditoría (need.create y luego cada need.update); "
        "una necesidad cuenta como presentada en términos imprecisos si el control considera "
        "imprecisa su primera versión, y como vuelta concreta si su última versión ya no lo es.",
        "rule_unmet": "Regla aplicada a las filas: una necesidad abierta no está atendida si aún no "
        "tiene propuestas, si su mejor propuesta (sin contar las rechazadas y cerradas) puntúa por "
        "debajo del umbral, o si ninguna fue aceptada después del número de días indicado "
        "(services/reports.py).",
        "rule_supply": "Un programa cubre una región que menciona, o todas las regiones si no "
        "restringe ni regiones ni países; un programa abierto a unos pocos países no cubre "
        "ninguna región entera.",
        "statements_query": "A.1 Declaraciones de necesidades del período",
        "query_of": "Consulta",
        "total_query": "Total",
        "t_sources": "Declaraciones por fuente",
        "t_cycles": "Respuestas por ciclo de presentación de informes",
        "t_coverage": "Partes que respondieron, por región",
        "t_by_sector": "Declaraciones por sector (artículo del Convenio)",
        "t_by_type": "Declaraciones por tipo de asistencia",
        "t_by_challenge": "Declaraciones por tipo de dificultad",
        "t_by_region": "Declaraciones por región",
        "t_by_language": "Declaraciones por idioma",
        "t_vagueness": "Declaraciones imprecisas por fuente",
        "t_coached": "Solicitudes presentadas en términos imprecisos y luego concretadas",
        "t_steps": "Pasos dados en el período",
        "c_step": "Paso",
        "step_proposed": "propuestas hechas",
        "step_accepted": "aceptadas por la secretaría",
        "step_rejected": "rechazadas, con un motivo",
        "step_introduced": "presentaciones hechas",
        "step_outcome": "resultados registrados",
        "step_funded": "financiadas",
        "t_proposals": "Propuestas hechas en el período, según su estado actual",
        "t_outcomes": "Resultados registrados de las presentaciones",
        "t_mobilised": "Montos movilizados",
        "t_unmet": "Necesidades abiertas no atendidas, por motivo",
        "t_supply": "Programas por sector y región",
        "t_change": "Cambios respecto del período anterior",
        "t_demo": "Registros de ejemplo",
        "c_source": "Fuente",
        "c_statements": "Declaraciones",
        "c_parties": "Partes",
        "c_cycle": "Ciclo",
        "c_region": "Región",
        "c_answering": "Partes que respondieron",
        "c_parties_in_region": "Partes de la región",
        "c_coverage": "Cobertura",
        "c_ldc": "PMA que respondieron",
        "c_sids": "PEID que respondieron",
        "c_sector": "Sector",
        "c_article": "Artículo",
        "c_assistance_type": "Tipo de asistencia",
        "c_challenge_kind": "Tipo de dificultad",
        "c_vague": "Imprecisas",
        "c_share": "Proporción",
        "c_language": "Idioma",
        "c_state": "Estado",
        "c_proposals": "Propuestas",
        "c_outcome": "Resultado",
        "c_currency": "Moneda",
        "c_amount": "Monto",
        "c_reason": "Motivo",
        "c_needs": "Necesidades",
        "c_measure": "Indicador",
        "c_previous": "Período anterior",
        "c_current": "Este período",
        "c_change": "Cambio",
        "total": "Total",
        "total_statements": "Declaraciones con al menos uno",
        "not_determined": "sin determinar",
        "source_report": "Informes nacionales (artículo 21)",
        "source_survey": "Encuesta sobre necesidades",
        "source_need": "Solicitudes presentadas directamente",
        "state_proposed": "propuesta, pendiente de examen",
        "state_accepted": "aceptada",
        "state_rejected": "rechazada",
        "state_introduced": "presentación hecha",
        "state_closed": "cerrada sin decisión",
        "outcome_agreed": "acuerdo",
        "outcome_funded": "financiada",
        "outcome_declined": "rechazada",
        "outcome_no-response": "sin respuesta",
        "reason_no_good_match": "ninguna propuesta adecuada en el catálogo",
        "reason_waiting": "pendiente de decisión",
        "reason_not_yet_matched": "aún sin propuestas",
        "measure_statements": "Declaraciones de necesidades",
        "measure_parties": "Partes que respondieron",
        "measure_vague_share": "Proporción de declaraciones imprecisas",
        "measure_proposals": "Propuestas",
        "measure_accepted": "Propuestas aceptadas",
        "measure_introduced": "Presentaciones",
        "measure_funded": "Presentaciones financiadas",
        "measure_filed_vague": "Presentadas en términos imprecisos",
        "measure_became_specific": "Concretadas tras la orientación",
        "demo_true": "ejemplos (datos de demostración)",
        "demo_false": "registros reales",
        "gap": "vacío",
        "chart_sectors": "Declaraciones de necesidades por sector",
        "chart_challenges": "Declaraciones por tipo de dificultad (imprecisas en color claro)",
        "chart_coverage": "Partes que respondieron, por región",
        "chart_funnel": "De la propuesta al resultado",
        "chart_supply": "Programas por sector y región (0 = vacío de oferta)",
        "legend_answering": "respondieron",
        "legend_parties": "Partes",
        "legend_specific": "concretas",
        "legend_vague": "imprecisas",
        "language_ar": "árabe",
        "language_zh": "chino",
        "language_en": "inglés",
        "language_fr": "francés",
        "language_ru": "ruso",
        "language_es": "español",
        "page": "Página",
    },
}


def document_text(language: str) -> dict[str, str]:
    """The document's words in ``language`` (English where a word is missing)."""
    return {**TEXT["en"], **TEXT.get(language, {})}

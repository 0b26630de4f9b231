"""The pure ranking engine: plain records in, ranked and explained results out.

No database, HTTP or settings lookups live here (``tests/engine/test_layers.py`` checks the
imports), so the CLI, the API and the evaluation harness share one pipeline. Along the flow:
``domain`` (the records), ``query`` (a need prepared once), ``catalogue`` and ``eligibility``
(who may be proposed), ``components`` (the score), ``explanations``, ``ranking`` (order and
diversity), ``builder`` (one way to assemble an engine), with ``codes`` (code profiles),
``vagueness`` (how specific a need is), ``understanding`` (language and coaching) and
``text/`` (tagging, BM25, language detection) beside them.
"""

"""The HTTP side: the FastAPI app (``app.py``), the ``/v1`` routes (``routes/``) and the
server-rendered workbench (``web/``). Routes and pages call services; they hold no rules."""

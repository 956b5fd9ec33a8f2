"""Composition root of the Function App: one Blueprint per package."""

import azure.functions as func

from alerts.functions import bp as alerts_bp
from ingest.functions import bp as ingest_bp
from vigil.functions import bp as vigil_bp

app = func.FunctionApp()
app.register_functions(vigil_bp)
app.register_functions(ingest_bp)
app.register_functions(alerts_bp)

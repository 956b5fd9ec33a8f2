"""Composition root of the Function App: one Blueprint per package."""

import azure.functions as func

from vigil.functions import bp as vigil_bp
from vigil.functions_alerts import bp as alerts_bp
from vigil.functions_console import bp as console_bp
from vigil.functions_ingest import bp as ingest_bp

app = func.FunctionApp()
app.register_functions(vigil_bp)
app.register_functions(ingest_bp)
app.register_functions(alerts_bp)
app.register_functions(console_bp)

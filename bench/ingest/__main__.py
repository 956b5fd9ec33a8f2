"""``python -m bench.ingest``: prints the cost-ingest benchmark result as JSON."""

import json

from bench.ingest import main

print(json.dumps(main(), indent=2))

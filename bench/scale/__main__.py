"""``python -m bench.scale``: prints the scale benchmark result as JSON."""

import json

from bench.scale import main

print(json.dumps(main(), indent=2))

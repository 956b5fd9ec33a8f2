"""``python -m bench.drift``: prints the drift benchmark results as JSON."""

import json

from bench.drift import main

print(json.dumps(main(), indent=2))

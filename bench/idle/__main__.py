"""``python -m bench.idle``: prints the idle-detection benchmark result as JSON."""

import json

from bench.idle import main

print(json.dumps(main(), indent=2))

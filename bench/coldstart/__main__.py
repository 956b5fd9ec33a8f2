"""``python -m bench.coldstart``: prints the cold-start result as JSON."""

import json

from bench.coldstart import main

print(json.dumps(main(), indent=2))

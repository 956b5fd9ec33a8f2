"""``python -m bench.faults``: prints the fault-injection figures as a JSON list (see the package docstring)."""

import json

from bench.faults import main

print(json.dumps(main(), default=str))

"""``python -m bench.faults``: prints the fault-injection figures as a JSON list (see the package docstring).

The channels under test fail on purpose thousands of times; their per-attempt warnings are
expected, so only errors reach stderr (the figures say what happened).
"""

import json
import logging

from bench.faults import main

logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
print(json.dumps(main(), default=str))

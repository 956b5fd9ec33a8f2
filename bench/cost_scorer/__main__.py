import json

from bench.cost_scorer import main

print(json.dumps(main(), indent=1))

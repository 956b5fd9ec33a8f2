import json

from bench.cost_scenarios import main

print(json.dumps(main(), indent=1))

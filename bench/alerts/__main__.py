import json

from bench.alerts import main

print(json.dumps(main(), indent=1))

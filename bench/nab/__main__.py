import json

from bench.nab import main

print(json.dumps(main(), indent=1))

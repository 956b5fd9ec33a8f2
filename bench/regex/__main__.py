import json

from bench.regex import main

print(json.dumps(main(), indent=1))

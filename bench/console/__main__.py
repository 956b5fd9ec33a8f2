import json

from bench.console import main

print(json.dumps(main()))

#!/usr/bin/env python3
"Print `name==floor` for the pure-Python runtime requirements in settings.ini, so CI can install exactly the declared floors."
import configparser, re, sys
from pathlib import Path

FLOOR_CHECKED = ('transformers', 'peft', 'datasets', 'accelerate', 'tokenizers', 'bitsandbytes', 'pandas', 'matplotlib')  # torch: the local CPU build

def floors(names=FLOOR_CHECKED)->list:
    "`name==version` for each of `names`, from the `>=` bound in settings.ini's `requirements`."
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(Path(__file__).resolve().parent.parent/'settings.ini')
    reqs = dict(re.match(r'([A-Za-z0-9_.-]+)>=([^,\s]+)', r).groups() for r in cfg['DEFAULT']['requirements'].split() if '>=' in r)
    missing = [n for n in names if n not in reqs]
    if missing: sys.exit(f"settings.ini declares no '>=' floor for {', '.join(missing)}")
    return [f'{n}=={reqs[n]}' for n in names]

if __name__ == '__main__': print(' '.join(floors(sys.argv[1:] or FLOOR_CHECKED)))

#!/usr/bin/env python
"Run the notebooks' cells as tests (nbdev's `test_nb`, the engine of `nbdev_test`) and count them honestly."
import argparse, os, sys, time
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor

ROOT = Path(__file__).resolve().parent.parent

def _test_one(fn, skip, force):
    "Test one notebook with nbdev; return (name, passed, seconds)."
    from nbdev.test import test_nb
    ok, secs = test_nb(Path(fn), skip_flags=skip, force_flags=force, basepath=ROOT)
    return Path(fn).name, ok, secs

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--path', default='nbs', help='a notebook, or a folder of notebooks')
    ap.add_argument('--flags', default='', help="space-separated flags to run too, e.g. 'slow'")
    ap.add_argument('--n_workers', type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args()
    os.chdir(ROOT)
    from nbdev.config import get_config
    skip, force = get_config().tst_flags.split(), a.flags.split()
    p = Path(a.path)
    files = [p] if p.is_file() else sorted(f for f in p.rglob('*.ipynb') if not any(s.startswith(('_', '.')) for s in f.relative_to(p).parts))
    if not files: print('0 passed, 0 failed (no notebooks found)'); return 1
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    t0, results = time.time(), []
    with ProcessPoolExecutor(a.n_workers) as ex:
        futs = [ex.submit(_test_one, str(f.resolve()), skip, force) for f in files]
        for fut in futs:
            name, ok, secs = fut.result()
            print(f"{'PASS' if ok else 'FAIL'} {name} ({secs:.0f}s)", flush=True)
            results.append(ok)
    passed, failed = sum(results), len(results)-sum(results)
    print(f"notebooks tested with flags [{a.flags or 'none'}] skipped flags [{' '.join(set(skip)-set(force))}] in {time.time()-t0:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1

if __name__ == '__main__': sys.exit(main())

#!/usr/bin/env python
"Run the notebooks' cells as tests (nbdev's `test_nb`, the engine of `nbdev_test`) and count them honestly."
import argparse, multiprocessing, os, shutil, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def _skip_cell(cell, flags):
    "True when `cell` is not run as a test: markdown, the export call, `eval: false`, or a skipped flag."
    if cell.cell_type != 'code' or 'nbdev_export'+'(' in cell.source: return True
    direc = getattr(cell, 'directives_', {}) or {}
    if direc.get('eval:', [''])[0].lower() == 'false': return True
    return bool(flags & direc.keys())

def _test_one(fn, skip, force, save_dir=None):
    "Run one notebook's cells as nbdev_test does; return (name, passed, seconds, cells run), saving it executed."
    os.environ['IN_TEST'] = '1'
    # every temporary file the notebook (and any CLI it calls) makes goes into one folder removed when it ends, pass or
    # fail: a merged model is ~0.5 GB, and three suites of leftovers once filled a CI machine's disk mid-run
    tmp = tempfile.mkdtemp(prefix=f'persona_ft_test-{Path(fn).stem}-')
    os.environ['TMPDIR'] = tempfile.tempdir = tmp
    try: return _run_one(fn, skip, force, save_dir)
    finally: shutil.rmtree(tmp, ignore_errors=True)

def _run_one(fn, skip, force, save_dir):
    "`_test_one`'s work, in the notebook's own temporary folder."
    import traceback
    from execnb.shell import CaptureShell
    from execnb.nbio import write_nb
    from fastcore.xtras import working_directory
    from nbdev.process import NBProcessor
    from nbdev.processors import FrontmatterProc
    fn, flags, t0 = Path(fn), set(skip)-set(force), time.time()
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True, rm_directives=False).nb
    n_run = sum(not _skip_cell(c, flags) for c in nb.cells)
    try: shell, ok = CaptureShell(fn), True
    except Exception:  # the notebook shell itself could not start (a broken toolchain): this notebook fails, the run goes on
        sys.stderr.write(f'{fn.name}: could not start a notebook shell:\n{traceback.format_exc()}\n'); return fn.name, False, time.time()-t0, n_run, []
    try:
        with working_directory(fn.parent): shell.run_all(nb, exc_stop=True, preproc=lambda c: _skip_cell(c, flags))
    except Exception:
        sys.stderr.write(shell.prettytb(fname=fn)+'\n'); ok = False
    skips = [l for c in nb.cells for o in c.get('outputs', []) if o.get('name') == 'stdout'
             for l in ''.join(o.get('text', '')).splitlines() if l.startswith('SKIPPED')]  # `shared_data`'s notices
    if save_dir:
        for c in nb.cells: c.pop('directives_', None)
        Path(save_dir).mkdir(parents=True, exist_ok=True); write_nb(nb, Path(save_dir)/fn.name)
    return fn.name, ok, time.time()-t0, n_run, skips

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--path', default='nbs', help='a notebook, or a folder of notebooks')
    ap.add_argument('--flags', default='', help="space-separated flags to run too, e.g. 'slow'")
    ap.add_argument('--n_workers', type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument('--save', default=None, help='folder to save the executed notebooks in (for the docs check)')
    a = ap.parse_args()
    os.chdir(ROOT)
    from nbdev.config import get_config
    skip, force = get_config().tst_flags.split(), a.flags.split()
    p = Path(a.path)
    files = [p] if p.is_file() else sorted(f for f in p.rglob('*.ipynb') if not any(s.startswith(('_', '.')) for s in f.relative_to(p).parts))
    if not files: print('0 passed, 0 failed (no notebooks found)'); return 1
    # the longest notebooks start first, so the two workers finish together (the order does not change results)
    longest = ['05_demo', '04_eval', 'colab_walkthrough', '03_train']
    files.sort(key=lambda f: (longest.index(f.stem) if f.stem in longest else len(longest), f.name))
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    # notebooks run side by side: give each its share of the cores, or torch's threads fight and run ~10x slower
    os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // min(a.n_workers, len(files)))))
    t0, results, cells = time.time(), [], 0
    # a fresh process per notebook: execnb's shell takes over `__main__` in the process it runs in
    # (multiprocessing.Pool's maxtasksperchild works on every supported Python; ProcessPoolExecutor's needs 3.11)
    with multiprocessing.get_context('spawn').Pool(min(a.n_workers, len(files)), maxtasksperchild=1) as pool:
        futs = [pool.apply_async(_test_one, (str(f.resolve()), skip, force, a.save)) for f in files]
        for fut in futs:
            name, ok, secs, n_run, skips = fut.get()
            print(f"{'PASS' if ok else 'FAIL'} {name}: {n_run} code cells ({secs:.0f}s)", flush=True)
            for line in skips: print(f'  {line}', flush=True)
            results.append(ok); cells += n_run
    passed, failed = sum(results), len(results)-sum(results)
    dtype = os.environ.get('PERSONA_FT_DTYPE') or 'auto'
    print(f"{len(results)} notebooks, {cells} code cells, tested with flags [{a.flags or 'none'}] skipped flags "
          f"[{' '.join(sorted(set(skip)-set(force)))}], PERSONA_FT_DTYPE={dtype}, in {time.time()-t0:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1

if __name__ == '__main__': sys.exit(main())

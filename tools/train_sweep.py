"""Training-defaults sweep for small persona sets (issue 16): the demo's setup, one setting changed at a time.

Each setting trains the demo personas on the bundled data (75-77 examples each, a third held out), then scores every
adapter on its own persona's held-out examples: held-out reply perplexity, persona hits@1 / MRR (its persona ranked
among the evaluated ones), persona consistency and loop rate; the base model is scored once on the same examples.
Results go to nbs/images/train_sweep.json after every setting (atomically), so a stopped sweep keeps what it measured.

    .venv/bin/python tools/train_sweep.py                       # every setting below
    .venv/bin/python tools/train_sweep.py --only default,lr2e-3 # some of them
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path

SETTINGS = {  # label -> changes to the demo's defaults (persona_ft.demo.DEMO_DEFAULTS)
    'default': {},
    'lr5e-4': {'learning_rate': 5e-4},
    'lr2e-3': {'learning_rate': 2e-3},
    'steps60': {'max_steps': 60},
    'r8': {'lora_r': 8},
    'r32': {'lora_r': 32},
    'neftune5': {'neftune_noise_alpha': 5.0},
    'steps60_lr2e-3': {'max_steps': 60, 'learning_rate': 2e-3},
}

def write_atomic(path:Path, obj):
    "Write `obj` as JSON to `path` through a temporary file in the same folder."
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix='.tmp')
    with os.fdopen(fd, 'w') as f: json.dump(obj, f, indent=1)
    os.replace(tmp, path)

def score(server, name, examples, table, encoder, max_new_tokens):
    "Metrics of model `name` of `server` on `examples`, replies ranked against `table`."
    from persona_ft.eval import score_replies, summarize_records
    gens = server.generate(examples, name, max_new_tokens=max_new_tokens, batch_size=8)
    recs = score_replies(examples, gens, server.nll(examples, name, batch_size=8), encoder, table)
    keep = ('ppl_token', 'persona_hits1', 'persona_mrr', 'persona_consistency', 'loop_rate', 'f1', 'eos_rate', 'n_scored')
    return {k: summarize_records(recs)[k] for k in keep}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--only', help='comma-separated labels of SETTINGS (default: all)')
    p.add_argument('--personas', default='chef_marco,grandma_rose')
    p.add_argument('--max_examples', type=int, default=24)
    p.add_argument('--max_new_tokens', type=int, default=48)
    p.add_argument('--out', default=str(Path(__file__).resolve().parents[1]/'nbs/images/train_sweep.json'))
    a = p.parse_args(argv)
    import torch
    from persona_ft.demo import demo_config, DEMO_DEFAULTS
    from persona_ft.train import train_personas
    from persona_ft.eval import (PersonaServer, read_training_card, heldout_examples, persona_table, sentence_encoder,
                                 reference_metrics)
    personas, out = a.personas.split(','), Path(a.out)
    res = json.loads(out.read_text()) if out.exists() else {}
    res.update(machine={'cpu_count': os.cpu_count(), 'torch_threads': torch.get_num_threads(), 'torch': torch.__version__},
               demo_defaults=DEMO_DEFAULTS, personas=personas, max_examples=a.max_examples, max_new_tokens=a.max_new_tokens)
    res.setdefault('runs', {})
    encoder = sentence_encoder()
    for label in (a.only.split(',') if a.only else SETTINGS):
        change = SETTINGS[label]
        with tempfile.TemporaryDirectory() as tmp:
            kw = {**DEMO_DEFAULTS, **change}
            cfg = demo_config(personas, Path(tmp), max_steps=kw.pop('max_steps'), learning_rate=kw.pop('learning_rate'),
                              lora_r=kw.pop('lora_r'), eval_size=kw.pop('eval_size'), **kw)
            t0 = time.time(); adapters = train_personas(cfg); train_s = time.time() - t0
            recs = {q: read_training_card(d) for q, d in adapters.items()}
            examples = [dict(e) for e in heldout_examples(None, recs, personas, a.max_examples)]
            table, server = persona_table(examples), PersonaServer(None, adapters)
            by = {q: [e for e in examples if e['persona'] == q] for q in personas}
            if 'base' not in res:
                res['base'] = {q: score(server, 'base', by[q], table, encoder, a.max_new_tokens) for q in personas}
            if 'reference' not in res: res['reference'] = reference_metrics(examples, encoder, table)['by_persona']
            run = {'change': change, 'train_seconds': round(train_s, 1), 'personas': {}}
            for q in personas:
                r = recs[q]
                run['personas'][q] = {'eval_loss_before': r.base_eval_loss, 'eval_loss_after': r.final_eval_loss,
                                      **score(server, q, by[q], table, encoder, a.max_new_tokens)}
            res['runs'][label] = run
            write_atomic(out, res)
            print(label, json.dumps(run['personas']), flush=True)

if __name__ == '__main__': main()

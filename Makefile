# The commands of the README: `make demo`, `make test` and `make test-fast`.
PYTHON ?= python3
CORES ?= 2
STAMP := .setup.stamp

.PHONY: setup test-services demo test test-fast lint bench bench-smoke clean

# torch first: the pinned CPU wheel; a bare "torch" dependency would pull a CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	snakemake --profile profiles/local --cores $(CORES)

# What the tests need beyond Python: headless Chromium for the report render
# check, and a real single-node Slurm cluster (started here, stopped after).
test-services:
	command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	bash .ci/slurm.sh start

# lint and the benchmark smoke first: they take seconds and fail fast
test: $(STAMP) lint bench-smoke test-services
	$(PYTHON) -m pytest -q -ra; status=$$?; bash .ci/slurm.sh stop; exit $$status

# The unit tests alone: no root, Slurm cluster, Chromium, snakemake runs or long training
# (markers in pyproject.toml); about a minute on 2 cores. `make test` runs these too.
FAST := not workflow and not slurm and not render and not slow
test-fast: $(STAMP)
	$(PYTHON) -m pytest -q -ra -m "$(FAST)"

lint: $(STAMP)
	ruff check src tests benchmarks workflow/scripts
	ruff format --check src tests benchmarks workflow/scripts
	snakefmt --check Snakefile workflow/rules
	snakemake --lint --cores 1

bench: $(STAMP)
	$(PYTHON) benchmarks/tokenize.py
	$(PYTHON) benchmarks/finetune.py
	$(PYTHON) benchmarks/tracks.py
	$(PYTHON) benchmarks/pretrain.py

# every benchmark at a smoke size, so that none rots: they print figures, assert nothing
TRAIN_SMOKE := --layers 1 --hidden 32 --heads 2 --intermediate 64 --max-tokens 256 --max-bases 250 --threads 1
bench-smoke: $(STAMP)
	$(PYTHON) benchmarks/tokenize.py --size-mbp 2 --chromosomes 2 --baseline-mbp 0.5 --repeat 1
	$(PYTHON) benchmarks/tracks.py --size-mbp 0.1 --chromosomes 2 --baseline-mbp 0.01
	$(PYTHON) benchmarks/finetune.py --n-train 32 --n-eval 16 --epochs 1 --repeats 1 $(TRAIN_SMOKE)
	$(PYTHON) benchmarks/pretrain.py --n-train 32 --n-val 16 --max-steps 2 --repeats 1 $(TRAIN_SMOKE)

clean:
	rm -rf results logs benchmarks/results .snakemake

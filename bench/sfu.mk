# Visio (SFU) benchmark (docs/benchmarks.md, "Visio (SFU)"): Atelier's SFU against an aiortc
# MediaRelay baseline and Janus VideoRoom, with the same aiortc bots, on loopback only.
# Included from the Makefile.
#   make bench-sfu        full run, ~7-9 minutes on 2 cores
#   make bench-sfu-quick  ~2 minutes
#   make bench-sfu-rounds Atelier and Janus, 1x4/2x8/4x12, 3 alternating rounds, medians (~11 min)
# Needs the venv with aiortc (pip install -e .), Debian's janus and a C compiler (installed
# here when missing and we are root). The first run generates the media (~3 minutes, cached
# under bench/results/). SFU_BENCH_ARGS adds flags, e.g. SFU_BENCH_ARGS="--servers atelier,janus".
SFU_BENCH_ARGS ?=
SFU_BENCH_OUT ?= bench/results

.PHONY: bench-sfu bench-sfu-quick bench-sfu-rounds sfu-bench-deps

sfu-bench-deps: $(RUN_STAMP)
	@missing=""; \
	command -v janus >/dev/null || missing="$$missing janus"; \
	command -v cc >/dev/null || missing="$$missing gcc"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (the Janus runs will fail)"; fi; \
	fi
	@$(BIN)/python -c "import aiortc" 2>/dev/null || $(BIN)/pip install --quiet 'aiortc>=1.16,<1.17'

bench-sfu: sfu-bench-deps
	@mkdir -p $(SFU_BENCH_OUT)
	$(BIN)/python bench/sfu_bench.py --json $(SFU_BENCH_OUT)/sfu.json $(SFU_BENCH_ARGS)

bench-sfu-quick: sfu-bench-deps
	@mkdir -p $(SFU_BENCH_OUT)
	$(BIN)/python bench/sfu_bench.py --quick --json $(SFU_BENCH_OUT)/sfu-quick.json $(SFU_BENCH_ARGS)

bench-sfu-rounds: sfu-bench-deps
	@mkdir -p $(SFU_BENCH_OUT)
	$(BIN)/python bench/sfu_bench.py --rounds 3 --servers atelier,janus \
	  --scenarios 1x4,2x8,4x12 --json $(SFU_BENCH_OUT)/sfu-rounds.json $(SFU_BENCH_ARGS)

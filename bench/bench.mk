# Sync-engine benchmark (docs/benchmarks.md, "Sync engine"): Atelier against
# @y/websocket-server and Hocuspocus on loopback. Included from the Makefile.
#   make bench-sync        full run, ~6-10 minutes on 2 cores
#   make bench-sync-quick  ~1.5 minutes
#   make bench-sync-fixed  the three fixed points, 3 alternating rounds, median ratios (~15 min)
# Needs the venv (pip install -e ., for .venv/bin/atelier) and node_modules, as `make run`.
# SYNC_BENCH_ARGS adds flags, e.g. SYNC_BENCH_ARGS="--servers ywss,hocuspocus --procs 2".
SYNC_BENCH_ARGS ?=
SYNC_BENCH_OUT ?= bench/results

.PHONY: bench-sync bench-sync-quick

bench-sync: $(RUN_STAMP) $(NODE_STAMP)
	@mkdir -p $(SYNC_BENCH_OUT)
	.venv/bin/python bench/sync_bench.py --json $(SYNC_BENCH_OUT)/sync.json $(SYNC_BENCH_ARGS)

bench-sync-quick: $(RUN_STAMP) $(NODE_STAMP)
	@mkdir -p $(SYNC_BENCH_OUT)
	.venv/bin/python bench/sync_bench.py --quick --json $(SYNC_BENCH_OUT)/sync-quick.json $(SYNC_BENCH_ARGS)

.PHONY: bench-sync-fixed
bench-sync-fixed: $(RUN_STAMP) $(NODE_STAMP)
	@mkdir -p $(SYNC_BENCH_OUT)
	.venv/bin/python bench/sync_bench.py --points fixed --rounds 3 --json $(SYNC_BENCH_OUT)/sync-fixed.json $(SYNC_BENCH_ARGS)

# Steady-state server CPU per update, servers alternating (bench/sync_cpu_bench.py).
SYNC_CPU_ARGS ?=
.PHONY: bench-sync-cpu
bench-sync-cpu: $(RUN_STAMP) $(NODE_STAMP)
	for point in "--docs 50 --clients 4 --rate 2" "--docs 10 --clients 20 --rate 2" \
	    "--docs 200 --clients 2 --rate 1"; do \
	  .venv/bin/python bench/sync_cpu_bench.py $$point $(SYNC_CPU_ARGS) || exit 1; \
	done

# Tasks (docs/benchmarks.md, "Tasks"): a 5,000-card board, a move seen by 20 live viewers,
# the scheduler on 200 and 1,000 tasks. About a minute.
.PHONY: bench-tasks
bench-tasks: $(RUN_STAMP)
	@mkdir -p $(SYNC_BENCH_OUT)
	.venv/bin/python bench/tasks_bench.py --json $(SYNC_BENCH_OUT)/tasks.json

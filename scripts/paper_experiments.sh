#!/usr/bin/env bash
# The paper's experiments on a CPU (issue 13), as one resumable script: every step skips what
# already exists, pretraining resumes from its checkpoint, the grids skip runs with a result.
# Each figure in docs/results/ names the step that produced it.
#
#   bash scripts/paper_experiments.sh                 # every step, in order
#   bash scripts/paper_experiments.sh grid-crossner   # one step (its inputs must exist)
#
# Steps: encoder corpus relabel pretrain315 convert maps grid-crossner pretrain212 pretrain4
#        digests figure3 grid-labelsets convert-others grid-source-target grid-domains maps-others grid-figure2
# Environment: NERBERT_WORK (default work/paper, git-ignored), NERBERT_SHARED (default
# ../shared/data), PRETRAIN_EPOCHS (default 4: passes over the pretraining corpus, one dev
# evaluation and one checkpoint per pass), PRETRAIN_THREADS (default 1: torch threads of the
# pretraining; a CPU run repeats byte for byte only at the same thread count, so a rebuild keeps
# the fingerprints that the grid results record), GRID_WORKERS (default 1: `nerbert grid`
# processes per grid step, one torch thread each, sharing the runs by claims), NICE (default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${NERBERT_WORK:-work/paper}
S=${NERBERT_SHARED:-../shared/data}
OWL=$S/dbpedia/dbpedia_2016-10.owl
TYPES=$S/dbpedia/instance-types-sample.nt.bz2
EPOCHS=${PRETRAIN_EPOCHS:-4}
BATCH=32
THREADS=${PRETRAIN_THREADS:-1}
DOMAINS="politics science music literature ai"
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
run() { echo "+ $*" >&2; nice -n "${NICE:-15}" "$@"; }
count() { python - "$1" <<'PY'
import glob, sys
from spacy.tokens import DocBin
print(sum(len(DocBin().from_disk(f)) for f in sorted(glob.glob(sys.argv[1] + "/*.spacy"))))
PY
}

step_encoder() { [ -d "$W/minilm" ] || run python -m nerbert_spacy model encoder minilm "$W/minilm"; }

step_corpus() {
  [ -f "$W/wiki315/stats.json" ] || run python -m nerbert_spacy corpus build "$S"/wikipedia/*.bz2 \
    --ontology "$OWL" --types "$TYPES" --output "$W/wiki315" --labels 315 --seed 0 --workers 1 --quiet
  [ -f "$W/wiki315/balance.json" ] || run python -m nerbert_spacy corpus balance "$W/wiki315" --alpha 0.7 --seed 0
}

step_relabel() {
  for L in 212 4; do
    [ -f "$W/wiki$L/relabel.json" ] || run python -m nerbert_spacy labels relabel "$W/wiki315" --to "$L" \
      --ontology "$OWL" --output "$W/wiki$L"
  done
}

# EPOCHS passes of BATCH sentences per update over wiki$1/train, one dev evaluation and one
# checkpoint per pass; an interrupted run resumes from the checkpoint with the steps left.
pretrain() {
  local L=$1 out="$W/pretrain$1" ck="$W/checkpoint$1"
  [ -f "$out/.complete" ] && return 0
  local n per total done left every
  n=$(count "$W/wiki$L/train")
  per=$(( (n + BATCH - 1) / BATCH )); total=$(( EPOCHS * per )); done=0
  if [ -f "$ck/nerbert_checkpoint.json" ]; then
    done=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['step'])" "$ck/nerbert_checkpoint.json")
  fi
  left=$(( total - done ))
  if [ "$left" -gt 0 ]; then
    every=$(( left < per ? left : per ))
    echo "pretrain $L: $n sentences, $EPOCHS epochs x $per updates of $BATCH; $done done, $left left" >&2
    run env OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" python -m spacy train configs/pretrain.cfg --output "$out" \
      --paths.train "$W/wiki$L/train" --paths.dev "$W/wiki$L/dev" --paths.encoder "$W/minilm" \
      --paths.checkpoint "$ck" --training.before_update.every "$per" \
      --training.max_steps "$left" --training.eval_frequency "$every" \
      --training.batcher.size "$BATCH" --training.accumulate_gradient 1 --system.seed 0
  fi
  touch "$out/.complete"
}
step_pretrain315() { pretrain 315; }
step_pretrain212() { pretrain 212; }
step_pretrain4() { pretrain 4; }

step_convert() {
  for d in $DOMAINS; do
    [ -f "$W/data/$d/meta.json" ] || run python -m nerbert_spacy data convert "crossner-$d" "$S/crossner/$d" \
      --output "$W/data/$d"
  done
}

step_maps() {
  for d in $DOMAINS; do
    [ -f "$W/mappings/$d.json" ] || run python -m nerbert_spacy labels map --from-data "$W/data/$d/train.spacy" \
      --pretrained "$W/pretrain315/model-best" --ontology "$OWL" --overrides "crossner-$d" --lenient \
      --output "$W/mappings/$d.json"
  done
}

# the source domain of Source & Target and the six other domains (steps 3-5)
OTHERS="conll2003:crossner/conll2003 btc:btc bionlp13cg:bionlp13cg bionlp13pc:bionlp13pc sec:sec_filings re3d:re3d"
step_convert-others() {
  for pair in $OTHERS; do
    d=${pair%%:*} src=${pair#*:}
    [ -f "$W/data/$d/meta.json" ] || run python -m nerbert_spacy data convert "$d" "$S/$src" --output "$W/data/$d"
  done
}

step_maps-others() {  # head transfer for Figure 2: no bundled overrides, the hierarchy alone
  for pair in $OTHERS; do
    d=${pair%%:*}
    [ -f "$W/mappings/$d.json" ] || run python -m nerbert_spacy labels map --from-data "$W/data/$d/train.spacy" \
      --pretrained "$W/pretrain315/model-best" --ontology "$OWL" --lenient --output "$W/mappings/$d.json"
  done
}

# one grid spec; with GRID_WORKERS > 1, that many workers at one torch thread each, each claiming
# the runs it trains (their output goes to $W/<spec>-worker<i>.log), then one report of the whole
grid() {
  local spec=$1 n=${GRID_WORKERS:-1} i rc=0 pids=()
  if [ "$n" -le 1 ]; then run python -m nerbert_spacy grid --spec "$spec"; return; fi
  mkdir -p "$W"
  for i in $(seq "$n"); do
    run env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m nerbert_spacy grid --spec "$spec" \
      > "$W/$(basename "$spec" .yml)-worker$i.log" 2>&1 &
    pids+=("$!")
    sleep 5  # the first worker claims its run before the next one looks
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  python -m nerbert_spacy grid --spec "$spec" --report-only
  return "$rc"
}
step_grid-crossner() { grid docs/results/grids/crossner-converged.yml; }
step_grid-labelsets() { grid docs/results/grids/crossner-labelsets.yml; }
step_grid-source-target() { grid docs/results/grids/crossner-source-target.yml; }
step_grid-domains() { grid docs/results/grids/six-domains.yml; }
step_grid-figure2() { grid docs/results/grids/figure2.yml; }

# Did this session's rebuild give the same pretrained files as the one recorded in docs/results?
# Writes the record when there is none; otherwise names the files (and encoder parts) that differ.
step_digests() {
  local rec=docs/results/pretrain-digests.json
  local models="" L
  for L in 315 212 4; do [ -f "$W/pretrain$L/.complete" ] && models="$models $W/pretrain$L/model-best"; done
  [ -n "$models" ] || { echo "no pretrained pipeline yet" >&2; return 0; }
  if [ -f "$rec" ]; then  # models the record lacks are added to it
    python scripts/pretrain_digests.py $models --compare "$rec" --add-missing || echo "(the rebuild differs from $rec)" >&2
  else
    python scripts/pretrain_digests.py $models --write "$rec"
  fi
}

# Figure 3: t-SNE of politics test entities under the plain encoder and the three NER-BERTs
step_figure3() {
  [ -f docs/results/figure3.png ] || run python -m nerbert_spacy viz tsne "$W/data/politics/test.spacy" \
    --model "$W/minilm" --name "MiniLM (no NER pretraining)" \
    --model "$W/pretrain4/model-best" --name "NER-BERT 4 types" \
    --model "$W/pretrain212/model-best" --name "NER-BERT 212 types" \
    --model "$W/pretrain315/model-best" --name "NER-BERT 315 types" \
    --output docs/results/figure3.png --seed 0
}

ALL="encoder corpus relabel pretrain315 convert maps grid-crossner pretrain212 pretrain4 digests figure3 grid-labelsets
     convert-others grid-source-target grid-domains maps-others grid-figure2"
for step in ${@:-$ALL}; do
  echo "=== $step ($(date -u +%FT%TZ), load $(cut -d' ' -f1 /proc/loadavg))" >&2
  "step_$step"
done

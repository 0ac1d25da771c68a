#!/usr/bin/env bash
# Issue 19 ablation: the recipe (configs/mitbih_inter_recipe.yaml) and each lever switched back,
# seeds given as arguments (default 0 1 2); one run at a time under the beats lock, one thread.
# Seed-major: every row gets seed 0, then every row seed 1, ... (a cut-off run stays balanced).
# Runs this worktree's src (PYTHONPATH), at NICE (default 15) under LOCK (default $TMPDIR/ecgzoo-beats.lock, so that the two scripts take turns).
# Usage: scripts/beats_ablation.sh OUT_DIR "ROW ..." [SEEDS...]
# With FOLDS=k (session 2: DS1 fold selection) each row and seed trains k fold models instead,
# ROW_sSEED_fK validated on record-wise DS1 fold K of k (data.seed fixes the folds).
# EXTRA="overrides" TAG=_x add overrides to every run and _x to its name (e.g. EXTRA=
# "data.mitbih.extra_databases=[svdb]" TAG=_svdb: DS1 + SVDB training, folds over DS1 only).
set -euo pipefail
out=$1; rows=$2; shift 2
seeds=${*:-0 1 2}
py=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
lock=${LOCK:-${TMPDIR:-/tmp}/ecgzoo-beats.lock}
niceness=${NICE:-15}
declare -A lever=(
  [full]=""
  [no_weights]="train.loss=ce"
  [keep_q]="data.mitbih.train_exclude_classes=[]"
  [holdout]="data.mitbih.inter_validation=holdout train.monitor=val_sv_f1"
  [rr_context]="data.mitbih.rr_context_set=rr_context"
  [no_median]="data.mitbih.median_beat_channel=false"
  [rr_irreg]="data.mitbih.rr_context_set=rr_log_irregularity"
  [power05]="train.class_weight_power=0.5"
  [no_median_rr_irreg]="data.mitbih.median_beat_channel=false data.mitbih.rr_context_set=rr_log_irregularity"
  [no_align]="data.mitbih.align_fiducial=none"
  [no_shift]="train.shift_samples=0"
  [resnet_trunk]='model.name=resnet1d model.params={"n_blocks":3,"width":16,"kernel":5,"stem_stride":4}'
  [resnet_poskeep]='model.name=resnet1d model.params={"n_blocks":3,"width":16,"kernel":5,"stem_stride":1,"pool_positions":4,"head_hidden":64}'
)
folds=${FOLDS:-0}
mkdir -p "$out"
for seed in $seeds; do
  for row in $rows; do
    for fold in $(if [ "$folds" -gt 0 ]; then seq 0 $((folds - 1)); else echo none; fi); do
      name="${row}${TAG:-}_s${seed}" fold_args="${EXTRA:-}"
      if [ "$fold" != none ]; then
        name="${name}_f${fold}"
        fold_args="$fold_args data.mitbih.inter_validation=fold data.mitbih.n_val_folds=$folds data.mitbih.val_fold=$fold"
      fi
      [ -f "$out/$name/metrics.json" ] && continue
      # shellcheck disable=SC2086
      nice -n "$niceness" flock "$lock" "$py" -m ecgzoo train configs/mitbih_inter_recipe.yaml \
        name="$name" output_dir="$out" train.seed="$seed" ${lever[$row]} $fold_args --quiet \
        >"$out/$name.log" 2>&1 || echo "FAILED $name" >>"$out/failed.txt"
    done
  done
done

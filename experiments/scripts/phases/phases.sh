# experiments/scripts/phases/phases.sh: the phases of notes/06c-what-p-lat-changes.md, sourced by
# run.sh, run_one.sh and report.sh so that the three agree: each phase's variants and seeds, the
# options of one run, and where runs (ignored) and results (committed) go.
#
# Environment (all optional):
#   PHASES_SEEDS    seeds of every phase (default "0 1 2")
#   PHASES_STEPS    steps of every run instead of its phase's own: a smoke run (e.g. 4); its results go
#                   to runs/phases-smoke/results, never to experiments/results, and nothing is committed
#   PHASES_RESULTS  where results go (default experiments/results; with PHASES_STEPS runs/phases-smoke/results)
#   PHASES_RUNS     where run directories go (default runs/phases; with PHASES_STEPS runs/phases-smoke)

PHASES_ALL="decisive continuity learnp cluster depth"
PHASES_SEEDS=${PHASES_SEEDS:-0 1 2}
if [ -n "${PHASES_STEPS:-}" ]; then
    RESULTS_ROOT=${PHASES_RESULTS:-runs/phases-smoke/results}
    RUNS_ROOT=${PHASES_RUNS:-runs/phases-smoke}
else
    RESULTS_ROOT=${PHASES_RESULTS:-experiments/results}
    RUNS_ROOT=${PHASES_RUNS:-runs/phases}
fi
# The columns of every phase's runs.csv (one row per finished, evaluated run).
RESULTS_HEADER="variant,seed,steps,val_loss,val_acc,test_loss,test_acc,train_loss,train_seconds,cpu_seconds,finished"

# The variants of a phase, in the order of its tables.
#   decisive:   the compare_torch.sh recipe (C 128, L 4, H 4, T 128, batch 16, 2000 steps): softmax, softmax
#               with the diagonal masked (p 2 exclude), p 1.5 with each self term, and softmax given the
#               steps that take as much CPU time as p 1.5 exclude's 2000 (softmax-eqtime, from cost.csv)
#   continuity: p 1.99 and 2.01 unit beside softmax (the small LM: C 64, L 4, T 64, 600 steps)
#   learnp:     p learned per head from 1.25, 2 and 2.5, each self term (the small LM; p recorded at
#               every validation)
#   cluster:    the synthetic cluster task and its control (value similarity carries no information),
#               softmax and p in {1.25, 1.5, 2.5} (C 64, L 2, T 128, 400 steps)
#   depth:      L in {2, 4, 8, 16} at C 64 (the small LM), softmax, p 2 exclude, p 1.5 with each self term
phase_variants() {
    local L v t s p
    case $1 in
        decisive) echo softmax p2-exclude p1.5-unit p1.5-exclude softmax-eqtime ;;
        continuity) echo softmax p1.99-unit p2.01-unit ;;
        learnp) for s in unit exclude; do for p in 1.25 2 2.5; do echo "learnp$p-$s"; done; done ;;
        cluster) for t in cluster control; do for v in softmax p1.25-unit p1.5-unit p1.5-exclude p2.5-unit; do echo "$t-$v"; done; done ;;
        depth) for L in 2 4 8 16; do for v in softmax p2-exclude p1.5-unit p1.5-exclude; do echo "L$L-$v"; done; done ;;
        *) echo "phases: unknown phase '$1'; the phases are $PHASES_ALL" >&2; return 1 ;;
    esac
}

phase_task() {
    case $1 in cluster) echo synthetic ;; *) echo lm ;; esac
}

# The attention options of an attention name: softmax | p<P>-<self> | learnp<P>-<self>.
attn_args() {
    case $1 in
        softmax | softmax-eqtime) echo "--attn softmax" ;;
        learnp*-*) local v=${1#learnp}; echo "--attn plap --p ${v%-*} --self ${v#*-} --learn-p" ;;
        p*-*) local v=${1#p}; echo "--attn plap --p ${v%-*} --self ${v#*-}" ;;
        *) echo "phases: unknown attention '$1'" >&2; return 1 ;;
    esac
}

# The decisive recipe: experiments/scripts/compare_torch.sh's model and training options.
DECISIVE_MODEL="--dim 128 --layers 4 --heads 4 --context 128"
DECISIVE_STEPS=2000
decisive_train() {  # STEPS
    echo "--steps $1 --batch 16 --lr 4e-3 --min-lr 2e-4 --warmup 50 --weight-decay 0.1 --grad-clip 1 --eval-every 200 --eval-batches 20 --log-every 100"
}
# The small LM of continuity, learnp and depth (the study's LM model, a shorter budget).
small_lm_train() {  # STEPS EVAL_EVERY
    echo "--steps $1 --batch 16 --lr 3e-3 --min-lr 3e-4 --warmup $(($1 / 10)) --weight-decay 0.1 --grad-clip 1 --eval-every $2 --eval-batches 10 --log-every 50"
}

# steps PHASE VARIANT: the run's steps (PHASES_STEPS replaces them all).
phase_steps() {
    if [ -n "${PHASES_STEPS:-}" ]; then echo "$PHASES_STEPS"; return; fi
    case $1 in
        decisive)
            if [ "$2" = softmax-eqtime ]; then
                # round(2000 x the CPU-time ratio of a p 1.5 exclude step to a softmax step), from cost.csv.
                awk -F, -v s=$DECISIVE_STEPS '$1 == "ratio" { printf "%d\n", s * $2 + 0.5; found = 1 } END { exit !found }' \
                    "$RESULTS_ROOT/decisive/cost.csv" 2>/dev/null || return 1
            else
                echo $DECISIVE_STEPS
            fi
            ;;
        cluster) echo 400 ;;
        *) echo 600 ;;
    esac
}

# run_args PHASE VARIANT SEED: everything after `plat train` for one run.
run_args() {
    local phase=$1 variant=$2 seed=$3 steps
    steps=$(phase_steps "$phase" "$variant") || return 1
    local every=$((steps / 4)); [ "$every" -ge 1 ] || every=1
    case $phase in
        decisive) echo "lm $DECISIVE_MODEL $(attn_args "$variant") --seed $seed $(decisive_train "$steps")" ;;
        continuity) echo "lm --dim 64 --layers 4 --heads 4 --context 64 $(attn_args "$variant") --seed $seed $(small_lm_train "$steps" "$every")" ;;
        learnp)
            local often=$((steps / 10)); [ "$often" -ge 1 ] || often=1
            echo "lm --dim 64 --layers 4 --heads 4 --context 64 $(attn_args "$variant") --seed $seed $(small_lm_train "$steps" "$often")" ;;
        depth)
            local L=${variant%%-*}; L=${L#L}
            echo "lm --dim 64 --layers $L --heads 4 --context 64 $(attn_args "${variant#*-}") --seed $seed $(small_lm_train "$steps" "$every")" ;;
        cluster)
            local control=""
            [ "${variant%%-*}" = control ] && control="--control"
            echo "synthetic --dim 64 --layers 2 --heads 4 --context 128 $control $(attn_args "${variant#*-}") --seed $seed" \
                 "--steps $steps --batch 16 --lr 3e-3 --min-lr 3e-4 --warmup $((steps / 10)) --eval-every $every --eval-batches 10"
            ;;
    esac
}

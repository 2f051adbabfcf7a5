# experiments/scripts/study/common.sh: the study's settings, sourced by run.sh, run_one.sh and report.sh
# so that the three agree: the tasks' models and budgets, the 12 attention variants, and where the
# runs go (notes/06-experiments.md, "The set-up").
#
# Environment (all optional):
#   STUDY_ROOT    where the runs go (default runs/study): STUDY_ROOT/<task>/<variant>/s<seed>
#   STUDY_STEPS   optimizer steps of every run, replacing each task's own (a smoke run: 20)
#   STUDY_SCALE   multiplies each task's steps (e.g. 0.5 for a half-length study); ignored with STUDY_STEPS
#   STUDY_RESULTS where each finished run's results go (default experiments/results/study, which is
#                 committed; with STUDY_STEPS or another STUDY_ROOT: STUDY_ROOT/results): runs.csv (the
#                 run's summary row) and layers.csv (task,variant,seed, then the probe's rows)

STUDY_ROOT=${STUDY_ROOT:-runs/study}
if [ -z "${STUDY_RESULTS:-}" ]; then
    if [ -z "${STUDY_STEPS:-}" ] && [ "$STUDY_ROOT" = runs/study ]; then STUDY_RESULTS=experiments/results/study
    else STUDY_RESULTS=$STUDY_ROOT/results; fi
fi
STUDY_RESULTS_HEADER="task,variant,seed,steps,val_loss,val_bpb,val_acc,test_loss,test_acc,bayes_acc,nn_mass,uniform_mass,cosine_last,p_learned,train_seconds,total_seconds,cpu_seconds,quarter_loss,quarter_acc"
STUDY_ALL_TASKS="lm vit synthetic"
STUDY_ALL_SEEDS="0 1 2"
STUDY_P_VALUES="1.25 1.5 1.75 2 2.5"

# The 12 variants, in the order of every table: the softmax baseline; p-LaT at each p with the
# self term "unit" (b_ii = 0), then "exclude" (j = i dropped); p-LaT with p learned per head from 2.
study_variants() {
    echo softmax
    local self p
    for self in unit exclude; do
        for p in $STUDY_P_VALUES; do echo "p$p-$self"; done
    done
    echo learnp-unit
}

# The model options of a variant: softmax | p<P>-<self> | learnp-<self>.
variant_args() {
    case $1 in
        softmax) echo "--attn softmax" ;;
        learnp-*) echo "--attn plap --p 2 --self ${1#learnp-} --learn-p" ;;
        p*-*)
            local v=${1#p}
            echo "--attn plap --p ${v%-*} --self ${v#*-}"
            ;;
        *)
            echo "study: unknown variant '$1'" >&2
            return 1
            ;;
    esac
}

# Each task's budget: the steps of one run (CPU seconds per run measured on the 2-core machine
# are in notes/06-experiments.md, "The set-up"), before STUDY_STEPS / STUDY_SCALE.
task_base_steps() {
    case $1 in
        lm) echo 1200 ;;        # 1200 x 16 windows x 64 bytes = 1.2M bytes, a third of the training text
        vit) echo 859 ;;        # one epoch: 859 batches of 64 (55000 training images, the remainder dropped)
        synthetic) echo 400 ;;  # 400 x 16 sequences x 128 tokens
    esac
}

task_steps() {
    if [ -n "${STUDY_STEPS:-}" ]; then
        echo "$STUDY_STEPS"
    else
        awk -v s="$(task_base_steps "$1")" -v f="${STUDY_SCALE:-1}" 'BEGIN { n = int(s * f + 0.5); print (n < 1 ? 1 : n) }'
    fi
}

# The model of each task (the same for every variant and seed; --seed is added per run).
task_model_args() {
    case $1 in
        lm) echo "--dim 64 --layers 4 --heads 4 --context 64" ;;
        vit) echo "--dim 64 --layers 4 --heads 4 --patch 7" ;;
        synthetic) echo "--dim 64 --layers 2 --heads 4 --context 128" ;;
    esac
}

# The training options of each task, for STEPS steps: warm-up a tenth of the run, then a cosine
# to a tenth of the peak; four validations (each also saves last.safetensors, so an interrupted
# run resumes from there) on 10 batches; the full evaluation is plat eval's, after training.
task_train_args() {
    local task=$1 steps=$2
    local warmup=$((steps / 10)) every=$((steps / 4))
    [ "$every" -ge 1 ] || every=1
    case $task in
        lm) echo "--steps $steps --batch 16 --lr 3e-3 --min-lr 3e-4 --warmup $warmup --eval-every $every --eval-batches 10" ;;
        vit) echo "--steps $steps --batch 64 --lr 2e-3 --min-lr 2e-4 --warmup $warmup --eval-every $every --eval-batches 10" ;;
        synthetic) echo "--steps $steps --batch 16 --lr 3e-3 --min-lr 3e-4 --warmup $warmup --eval-every $every --eval-batches 10" ;;
    esac
}

# What plat eval measures after training: lm the whole validation text; vit the validation and
# the test set; synthetic plat eval's fixed validation and test batches (50 of 16 sequences each).
task_eval_splits() {
    case $1 in
        lm) echo "val" ;;
        *) echo "val test" ;;
    esac
}

task_title() {
    case $1 in
        lm) echo "KJV byte-level language model" ;;
        vit) echo "Fashion-MNIST vision transformer" ;;
        synthetic) echo "synthetic cluster task" ;;
    esac
}

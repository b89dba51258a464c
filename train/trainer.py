"""Training, as before the split: ``snn_deploy.train.trainer`` re-exports the modules that do it.

- :mod:`.splits`    the data splits of a run (``load_splits``, ``carve_validation``);
- :mod:`.rundir`    the run directory's files and the plan of a run, new or resumed;
- :mod:`.loop`      ``train``: the epoch loop, exact resume, the final test;
- :mod:`.evaluate`  ``evaluate`` (a split, sharded over ranks) and ``evaluate_checkpoint``.
"""
from __future__ import annotations

from snn_deploy.train.evaluate import EvalResult, class_scores, evaluate, evaluate_checkpoint, firing_sums  # noqa: F401
from snn_deploy.train.loop import (  # noqa: F401
    SCHEDULER_MODE,
    build_seeded_model,
    check_like_fresh,
    check_training_memory,
    format_summary,
    train,
)
from snn_deploy.train.rundir import (  # noqa: F401
    BEST,
    LAST,
    LR_GRADED,
    LR_SPIKES,
    METRICS,
    RESUMABLE_CHANGES,
    RUN_FILES,
    RUN_INFO,
    STATUS_COMPLETE,
    STATUS_RUNNING,
    SUMMARY,
    EpochMetrics,
    TrainResult,
    check_new_run_dir,
    check_train_config,
    clear_run_files,
    read_run_info,
    resolve_lr,
)
from snn_deploy.train.splits import DataSplits, carve_validation, load_splits  # noqa: F401

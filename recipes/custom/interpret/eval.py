#!/usr/bin/env python3
"""Evaluate an L-MAC interpreter trained on your own data against the Energy and Random floors.

The interpreter folder is the export of ``recipes/custom/interpret/train_lmac.py``; it is evaluated on
the test split of the same data and split (the same ``dataset``, ``split_ratios``, ``split_seed``,
``valid_folds``, ``test_folds`` as the training; the split the folder records must match), on the clean
clips or, with ``--noise_folder``, on the clips mixed with that noise as the training recipe tests them.

Usage (CPU config):
    python recipes/custom/interpret/eval.py hparams/eval_custom_cpu.yaml --dataset my_sounds \
        --interpreter_source results/lmac_custom_cpu/1234/interpreter

Writes ``results.csv`` (one row per method and test clip), ``summary.json`` and ``summary.md`` (mean and
95% Student-t CI per metric and method: matched-budget ``Ins AUC`` / ``Del AUC`` and ``Listen@q``) and
``budget_curves_test.png`` into the output folder. The tables are rewritten after every method (marked
partial until the run ends). ``--sections "[budget]"`` runs only that part, ``--methods "[L-MAC, Energy]"``
only those explainers. Under ``torchrun`` each process explains a round-robin shard of the clips and
rank 0 writes the gathered rows.

Authors
 * lmac_brain contributors 2026
"""

import os
import sys

from lmac_brain.data.custom_data import split_description
from lmac_brain.evaluation.budget_figure import plot_budget_curves
from lmac_brain.evaluation.evalsets import ManifestSet
from lmac_brain.evaluation.evaluate import budget_rows, check_sections, listening_rows, select_methods
from lmac_brain.evaluation.scoring import scoring_model
from lmac_brain.evaluation.sharding import Shard, gather_rows, leave_group, rank_and_world
from lmac_brain.evaluation.tables import write_results
from lmac_brain.recipe.experiment import command_line, custom_manifests, start_experiment
from lmac_brain.recipe.interpreter_eval import lmac_factory, load_interpreter

SET = "test"


def main(argv):
    hparams, _ = start_experiment(argv)
    sections = check_sections(hparams["sections"], allowed=("budget", "listening"))
    manifests = custom_manifests(hparams)
    split = split_description(
        hparams["valid_folds"], hparams["test_folds"], hparams["split_ratios"], hparams["split_seed"]
    )
    lmac, recorded = load_interpreter(hparams["interpreter_source"], manifests, split, hparams["dataset"])
    fe, clf, domain, bs = lmac.frontend, lmac.classifier, lmac.mask_domain, hparams["batch_size"]
    dataset = ManifestSet(
        manifests["test"], fe.sample_rate, hparams["noise_folder"], hparams["noise_snr_db"], hparams["seed"]
    )
    methods = select_methods({"L-MAC": lmac_factory(lmac), **hparams["explainers"]}, hparams["methods"])

    rank, world = rank_and_world()
    shard = Shard(dataset, rank, world)  # rows are gathered in item order
    header = (
        f"Test split of {hparams['dataset']} ({split}): {len(dataset)} clips, {dataset.condition}. Interpreter "
        f"{hparams['interpreter_source']} ({recorded.get('title', 'no metrics.json')}), seed {hparams['seed']}, "
        f"mask domain {domain}.\n"
        f"Command: {command_line()}"
    )
    scorer = scoring_model(fe, clf, hparams["compile_scorer"])
    decisions = {}  # each whole input classified once for every method
    rows = []
    for name, factory in methods.items():
        explainer = factory(fe, clf)
        if "budget" in sections:
            rows += gather_rows(
                budget_rows(
                    name,
                    explainer,
                    SET,
                    shard,
                    fe,
                    clf,
                    domain,
                    bs,
                    hparams["budgets"],
                    hparams["seed"],
                    scorer,
                    decisions,
                )
            )
        if "listening" in sections:
            rows += gather_rows(
                listening_rows(
                    name,
                    explainer,
                    SET,
                    shard,
                    fe,
                    clf,
                    domain,
                    bs,
                    hparams["listening_budgets"],
                    hparams["seed"],
                    scorer,
                )
            )
        if rank == 0:  # the results so far, so that a run stopped later keeps every finished method
            write_results(hparams["output_folder"], rows, header + f"\n(partial: methods up to {name})")
    if rank == 0:
        summary = write_results(hparams["output_folder"], rows, header)
        if "budget" in sections:
            path = os.path.join(hparams["output_folder"], f"budget_curves_{SET}.png")
            plot_budget_curves(summary[SET], hparams["budgets"], path, f"{SET} split of {hparams['dataset']}")
        print(open(os.path.join(hparams["output_folder"], "summary.md"), encoding="utf-8").read())
    leave_group()


if __name__ == "__main__":
    main(sys.argv[1:])

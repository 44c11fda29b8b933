#!/usr/bin/env python3
"""Evaluate L-MAC and the baselines on every set with one command.

    python recipes/ESC50/interpret/eval.py hparams/eval_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise \
        --speech_folder ../shared/data/speech

Writes ``results.csv`` (one row per method, set and item), ``summary.json`` and ``summary.md`` (mean and
95% Student-t CI per metric, method and set, with seconds per explained clip) and one PNG of the
matched-budget insertion/deletion curves per set (``budget_curves_<set>.png``) into the output folder.
The tables are rewritten after every method (marked partial until the run ends), so a run stopped
midway keeps the methods it finished.
``--sections "[sanity]"`` (any of ``budget``, ``listening``, ``faithfulness``, ``localization``, ``sanity``,
``targeted``) runs only
those parts, ``--methods "[L-MAC, Energy, Random]"`` only those explainers, ``--compile_scorer True``
scores the masked inputs with a compiled classifier (about 2x faster on a CPU); ``summarize.py``
combines the results of several runs into one table.

Under ``torchrun --nproc_per_node=N ... --distributed_backend gloo`` (nccl on
GPUs) each process explains a round-robin shard of every set and rank 0 writes the gathered rows: the
same ``results.csv`` as one process (timings aside).

Authors
 * lmac_brain contributors 2026
"""

import os
import sys

import torch
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.fetching import FetchConfig

from lmac_brain.data.files import list_audio_files
from lmac_brain.evaluation.budget_figure import plot_budget_curves
from lmac_brain.evaluation.evalsets import esc50_clip_classes, esc50_evaluation_sets
from lmac_brain.evaluation.evaluate import (
    budget_rows,
    check_sections,
    faithfulness_rows,
    listening_rows,
    localization_rows,
    sanity_rows,
    select_methods,
)
from lmac_brain.evaluation.localization import LocalizationSet
from lmac_brain.evaluation.scoring import scoring_model
from lmac_brain.evaluation.sharding import Shard, gather_rows, leave_group, rank_and_world
from lmac_brain.evaluation.tables import write_results
from lmac_brain.evaluation.targeted import targeted_rows
from lmac_brain.models.classifier_folder import label_file
from lmac_brain.models.encoder_classifier import EncoderAudioClassifier
from lmac_brain.models.sources import check_pretrainer_paths, check_source
from lmac_brain.recipe.experiment import command_line, start_experiment
from lmac_brain.recipe.runs import classifier_name


def main(argv):
    hparams, _ = start_experiment(argv)  # a mistyped classifier_source stops here (classifier_folder checks it)
    check_source(hparams["decoder_ckpt"], "decoder checkpoint", option="--decoder_ckpt", file=True)
    check_pretrainer_paths(hparams["pretrainer"])
    run_on_main(hparams["pretrainer"].collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
    hparams["pretrainer"].load_collected()
    fe, clf = hparams["frontend"], hparams["classifier"].eval()
    rate, domain, bs = hparams["sample_rate"], hparams["mask_domain"], hparams["batch_size"]

    sets = esc50_evaluation_sets(
        hparams["data_folder"],
        rate,
        hparams["noise_folder"],
        hparams["speech_folder"],
        test_fold=hparams["test_fold"],
        n_per_clip=hparams["n_per_clip"],
        seed=hparams["seed"],
        max_clips=hparams["max_clips"],
    )
    clips = sets["in_domain"].clips
    loc = LocalizationSet(  # each event explained for its own class (the classifier's label of its category)
        clips,
        list_audio_files(hparams["noise_folder"], kind="noise"),
        rate,
        event_s=hparams["localization_event_s"],
        snr_db=hparams["localization_snr_db"],
        seed=hparams["seed"],
        targets=esc50_clip_classes(
            hparams["data_folder"],
            [c for c, _ in clips],
            clf.model.labels if isinstance(clf, EncoderAudioClassifier) else label_file(hparams["classifier_source"]),
        ),
    )
    sanity_items = [sets["in_domain"][i] for i in range(min(hparams["sanity_clips"], len(sets["in_domain"])))]

    # Under torchrun each rank explains a round-robin shard of every set; rows are gathered in item order.
    rank, world = rank_and_world()
    shard = {name: Shard(dataset, rank, world) for name, dataset in sets.items()}
    my_sanity = list(Shard(sanity_items, rank, world))

    def sanity(name, factory):
        if not my_sanity:
            return []
        wavs = torch.stack([it[1] for it in my_sanity])
        return sanity_rows(name, factory, fe, clf, wavs, [it[0] for it in my_sanity])

    header = (
        f"Test fold {hparams['test_fold']}, {len(sets['in_domain'].clips)} clips x {hparams['n_per_clip']} "
        f"contaminations per set, {classifier_name(clf)}, seed {hparams['seed']}, "
        f"mask domain {domain}.\n"
        f"Command: {command_line()}"
    )
    sections = check_sections(hparams["sections"])
    scorer = scoring_model(fe, clf, hparams["compile_scorer"])  # one model (one compilation) for every method
    decisions = {set_name: {} for set_name in sets}  # each whole input classified once for every method
    rows = []
    for name, factory in select_methods(hparams["explainers"], hparams["methods"]).items():
        explainer = factory(fe, clf)
        if "budget" in sections:
            for set_name, dataset in shard.items():
                rows += gather_rows(
                    budget_rows(
                        name,
                        explainer,
                        set_name,
                        dataset,
                        fe,
                        clf,
                        domain,
                        bs,
                        hparams["budgets"],
                        hparams["seed"],
                        scorer,
                        decisions[set_name],
                    )
                )
        if "listening" in sections:
            for set_name, dataset in shard.items():
                rows += gather_rows(
                    listening_rows(
                        name,
                        explainer,
                        set_name,
                        dataset,
                        fe,
                        clf,
                        domain,
                        bs,
                        hparams["listening_budgets"],
                        hparams["seed"],
                        scorer,
                    )
                )
        if "faithfulness" in sections:
            for set_name, dataset in shard.items():
                rows += gather_rows(faithfulness_rows(name, explainer, set_name, dataset, fe, clf, domain, bs, scorer))
        if "localization" in sections:
            rows += gather_rows(
                localization_rows(
                    name, explainer, Shard(loc, rank, world), fe, domain, bs, hparams["localization_threshold"], scorer
                )
            )
        if "sanity" in sections:
            rows += gather_rows(sanity(name, factory))
        if "targeted" in sections:  # the 2nd and 3rd classes of every in-domain item
            rows += gather_rows(
                targeted_rows(
                    name,
                    explainer,
                    shard["in_domain"],
                    fe,
                    clf,
                    domain,
                    bs,
                    hparams["targeted_ranks"],
                    hparams["budgets"],
                    hparams["seed"],
                    scorer,
                )
            )
        if rank == 0:  # the results so far, so that a run stopped later keeps every finished method
            write_results(hparams["output_folder"], rows, header + f"\n(partial: methods up to {name})")
    if rank == 0:
        summary = write_results(hparams["output_folder"], rows, header)
        if "budget" in sections:  # one figure of the insertion/deletion curves per set
            for set_name in sets:
                plot_budget_curves(
                    summary[set_name],
                    hparams["budgets"],
                    os.path.join(hparams["output_folder"], f"budget_curves_{set_name}.png"),
                    set_name,
                )
        print(open(os.path.join(hparams["output_folder"], "summary.md"), encoding="utf-8").read())
    leave_group()


if __name__ == "__main__":
    main(sys.argv[1:])

"""The shipped interpreter: its metrics re-computed on real data, and the README's main command.

Where the real data are present (``../shared/data``, as on developer machines and CI), the shipped
classifier is re-scored on all 400 ESC-50 fold-5 clips and the L-MAC metrics are re-computed on the same
clips mixed with the real noise at 0 dB, through the pipelines the recipes use (peak-normalised clips,
:class:`~lmac_brain.data.noise.NoiseMixer` deterministic per clip ID with the recipe's seed 1234). Elsewhere
that test is skipped with the reason.

Tolerances: 0.5 points of test accuracy (2 of 400 clips); for L-MAC 0.5 points of AI, AD and AG (in
percent), 0.005 of FF and Fid-In (2 clips), 0.002 of SPS and 0.02 nats of COMP. On the machine that
trained the model the re-computed values are equal to float precision; the margins allow another BLAS to
flip a decision that sits on a tie.
"""

import json

import pytest
import soundfile as sf
import torch

from lmac_brain.interface.cli import DEFAULT_SOURCE, main

pytestmark = pytest.mark.slow  # the shipped model on real data and the README main command

#: metric -> allowed absolute difference between the re-computed and the shipped fold-5 value
LMAC_TOLERANCE = {"AI": 0.5, "AD": 0.5, "AG": 0.5, "FF": 0.005, "Fid-In": 0.005, "SPS": 0.002, "COMP": 0.02}


#: The real example recordings (examples/README.md) and their ESC-50 classes.
EXAMPLES = {"dog_barking": "dog", "rooster": "rooster", "cow_moo": "cow", "frogs": "frog", "birds": "chirping_birds"}


def test_main_command_explains_the_examples_with_the_shipped_model(repo_root, tmp_path):
    out = tmp_path / "explanations"
    code = main(
        ["explain", str(repo_root / "examples" / "audio"), "--out", str(out), "--savedir", str(tmp_path / "cache")]
    )
    assert code == 0
    assert sorted(p.stem for p in (repo_root / "examples" / "audio").iterdir()) == sorted(EXAMPLES)
    for name, label in EXAMPLES.items():
        for suffix in ("_interpretation.wav", "_masked_out.wav", ".png"):
            assert (out / f"{name}{suffix}").is_file()
        info = sf.info(str(out / f"{name}_interpretation.wav"))
        assert info.frames == sf.info(str(repo_root / "examples" / "audio" / f"{name}.wav")).frames
        decision = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        assert decision["label"] == label and decision["prob"] > 0.5, (name, decision["label"], decision["prob"])
    # A second run keeps the outputs (no --overwrite) and still succeeds.
    assert (
        main(
            ["explain", str(repo_root / "examples" / "audio"), "--out", str(out), "--savedir", str(tmp_path / "cache")]
        )
        == 0
    )


def test_shipped_model_has_its_logs_and_metrics(repo_root):
    folder = repo_root / "pretrained" / "lmac_cnn14_cpu_esc50"
    assert str(folder) == DEFAULT_SOURCE
    clf = json.loads((folder / "classifier_metrics.json").read_text(encoding="utf-8"))
    assert (
        clf["test_folds"] == [5] and "test_acc" in clf
    )  # its value: test_shipped_metrics_are_recomputed_on_real_fold_5
    lmac = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert {"AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP"} <= set(lmac["test"])
    for log in ("classifier_train_log.txt", "lmac_train_log.txt"):
        assert "epoch: 1," in (folder / log).read_text(encoding="utf-8")
    weights = sum(p.stat().st_size for p in (repo_root / "pretrained").rglob("*.ckpt"))
    assert weights < 20 * 1024 * 1024


def test_another_class_in_one_pass_and_refined_on_request(repo_root, tmp_path):
    import torch

    from lmac_brain.interface.interpreter import LMACInterpreter

    interp = LMACInterpreter.from_hparams(source=DEFAULT_SOURCE, savedir=str(tmp_path / "cache"))
    lmac = interp.mods.lmac
    assert lmac.conditional  # the shipped decoder is class-conditional
    path = str(repo_root / "examples" / "audio" / "dog_barking.wav")
    plain, second = interp.interpret_file(path, top_k=2)
    refined = interp.interpret_file(path, target=second.targets[0], refine=True)
    target = interp.class_index(second.targets[0])

    def masked_in_prob(mask):
        with torch.no_grad():
            logits, _ = lmac.classify(lmac.apply_mask(plain.logmag, mask))
        return float(logits.softmax(-1)[0, target])

    # the 2nd class is explained in the same pass (its own mask), refined only on request
    assert not second.refined.any() and second.targets != plain.labels
    assert (second.mask - plain.mask).abs().mean() > 0.01
    # the refinement, starting from that mask, keeps more evidence for class 2
    assert refined.refined.all() and masked_in_prob(refined.mask) > masked_in_prob(second.mask) + 0.1


def test_shipped_metrics_are_recomputed_on_real_fold_5(repo_root, real_data, tmp_path):
    import speechbrain as sb

    from lmac_brain.data.dataio import classification_datasets
    from lmac_brain.data.esc50 import prepare_esc50
    from lmac_brain.data.noise import NoiseMixer
    from lmac_brain.evaluation.metrics import all_metrics
    from lmac_brain.interface.interpreter import LMACInterpreter

    real_data("esc50-16k", "meta", "esc50.csv")
    shared = real_data("noise").parent
    folder = repo_root / "pretrained" / "lmac_cnn14_cpu_esc50"
    shipped_acc = json.loads((folder / "classifier_metrics.json").read_text(encoding="utf-8"))["test_acc"]
    shipped = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert shipped["condition"].startswith("noise at 0.0 dB") and shipped["test_folds"] == [5]

    test = {"test": prepare_esc50(shared / "esc50-16k", tmp_path / "save", download=False)["test"]}
    interp = LMACInterpreter.from_hparams(source=str(folder), savedir=str(tmp_path / "cache"))
    lmac, encoder = interp.mods.lmac.eval(), interp.hparams.label_encoder
    clean = classification_datasets(test, encoder, 16000)["test"]
    mixer = NoiseMixer(shared / "noise", 16000, snr_db=0.0, seed=1234, deterministic=True)
    noisy = classification_datasets(test, encoder, 16000, eval_noise=mixer)["test"]
    correct, values = [], {}
    with torch.no_grad():
        loaders = (sb.dataio.dataloader.make_dataloader(d, batch_size=16) for d in (clean, noisy))
        for clean_batch, noisy_batch in zip(*loaders):
            logits, _ = lmac.classify(lmac.analyse(clean_batch.sig[0])[0])
            correct.append(logits.argmax(dim=-1) == clean_batch.label_encoded[0].view(-1))
            out = lmac(noisy_batch.sig[0])
            for name, value in all_metrics(out["logits"], out["logits_in"], out["logits_out"], out["mask"]).items():
                values.setdefault(name, []).append(value)
    correct = torch.cat(correct)
    assert correct.numel() == 400
    assert abs(float(correct.double().mean()) - shipped_acc) <= 0.005
    recomputed = {name: float(torch.cat(v).double().mean()) for name, v in values.items()}
    for name, tolerance in LMAC_TOLERANCE.items():
        assert abs(recomputed[name] - shipped["test"][name]) <= tolerance, (
            name,
            recomputed[name],
            shipped["test"][name],
        )

"""Integration tests of the L-MAC recipe on generated data: learning, debug run, resume, FT stage and its guard.

The learning test explains the session's toy classifier (``toy_classifier_run`` in conftest.py, trained on
tones vs noise bursts) and requires that the L-MAC objective falls over training and that the trained
masks keep the classifier's decision on the noisy test mixtures more often than an all-0.5 mask does;
neither holds for a decoder that does not learn (e.g. ``--lr 0``). The other tests use a classifier
exported from a tiny random CNN14 (the recipe only needs the files). The L-MAC config is shrunk to that
width, so that each run takes seconds.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from limits import HANG_S

from lmac_brain.interface.export import export_classifier
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.frontend import Frontend

pytestmark = pytest.mark.slow  # recipe runs in subprocesses

TINY = ["--batch_size", "2", "--train_crop_s", "0.5", "--download", "False", "--n_listen_valid", "2"]


@pytest.fixture
def tiny_classifier(tmp_path, tiny_esc50):
    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 32, 0.0625, return_reps=True), torch.nn.Linear(32, 2))
    labels = tmp_path / "label_encoder.txt"
    labels.write_text("'dog' => 0\n'chirping_birds' => 1\n================\n'starting_index' => 0\n", encoding="utf-8")
    return export_classifier(str(tmp_path / "classifier"), Frontend(), clf, str(labels), {})


def _run(repo_root, tmp_path, args, config="lmac_cnn14_cpu.yaml"):
    cmd = [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/train_lmac.py"),
        str(repo_root / "hparams" / config),
        *TINY,
        *args,
    ]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _train_losses(train_log: Path):
    """The training ``loss`` of each epoch line of a SpeechBrain train log."""
    lines = [line for line in train_log.read_text(encoding="utf-8").splitlines() if line.startswith("epoch:")]
    return [float(line.split("train loss: ")[1].split(",")[0]) for line in lines]


def test_lmac_learns_to_explain_a_trained_classifier(toy_classifier_run, repo_root, tmp_path):
    from lmac_brain.data.audio import load_audio
    from lmac_brain.data.noise import NoiseMixer
    from lmac_brain.interface.interpreter import LMACInterpreter

    data, noise = toy_classifier_run["data"], toy_classifier_run["noise"]
    out = tmp_path / "lmac"
    cmd = [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/train_lmac.py"),
        str(repo_root / "hparams/lmac_cnn14_cpu.yaml"),
        "--batch_size",
        "8",
        "--train_crop_s",
        "0.5",
        "--lr",
        "0.005",
        "--download",
        "False",
        "--n_listen_valid",
        "0",
        "--n_listen_test",
        "0",
        "--number_of_epochs",
        "3",
        "--data_folder",
        str(data),
        "--noise_folder",
        str(noise),
        "--output_folder",
        str(out),
        "--classifier_source",
        str(toy_classifier_run["out"] / "classifier"),
    ]
    _ok(subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S))
    losses = _train_losses(out / "train_log.txt")
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0], f"the L-MAC objective did not fall: {losses}"

    # The recipe's test condition: each fold-5 clip mixed with the noise at 0 dB, deterministically per clip.
    lmac = LMACInterpreter.from_hparams(source=str(out / "interpreter"), savedir=str(tmp_path / "cache")).mods.lmac
    mixer = NoiseMixer(noise, 16000, 0.0, seed=1234, deterministic=True)
    clips = sorted((data / "audio").glob("5-*.flac"))
    wavs = torch.stack([mixer(load_audio(p, 16000, normalize=False), p.stem) for p in clips])
    with torch.no_grad():
        chain = lmac.eval()(wavs)
        decision = chain["logits"].argmax(dim=-1)
        half, _ = lmac.classify(lmac.apply_mask(chain["logmag"], torch.full_like(chain["mask"], 0.5)))
    kept_by_lmac = (chain["logits_in"].argmax(dim=-1) == decision).float().mean()
    kept_by_half = (half.argmax(dim=-1) == decision).float().mean()
    assert len(clips) == 16 and kept_by_lmac >= kept_by_half + 0.25, (float(kept_by_lmac), float(kept_by_half))


def test_lmac_recipe_trains_tests_writes_listenable_outputs_resumes_and_fine_tunes(
    tiny_esc50, noise_folder, tiny_classifier, repo_root, tmp_path
):
    common = [
        "--data_folder",
        str(tiny_esc50),
        "--noise_folder",
        str(noise_folder),
        "--classifier_source",
        tiny_classifier,
    ]
    out = tmp_path / "lmac"
    log = _ok(_run(repo_root, tmp_path, common + ["--output_folder", str(out), "--number_of_epochs", "1"]))
    assert "valid Fid-In" in log and "test AI" in log
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for name in ("AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP", "loss"):
        assert name in results["test"]
    assert results["decoder_params"] > 0 and (out / "decoder.ckpt").is_file()
    from lmac_brain.interface.interpreter import LMACInterpreter

    interp = LMACInterpreter.from_hparams(source=str(out / "interpreter"), savedir=str(tmp_path / "cache"))
    assert interp.interpret_batch(torch.randn(1, 8000)).mask.shape == (1, 44, 513)
    assert "| AI |" in (out / "interpreter" / "README.md").read_text(encoding="utf-8")
    test_items = sorted(os.listdir(out / "listen" / "test"))
    assert len(test_items) == 2 * 2  # both fold-5 clips: one wav and one png each
    assert len(os.listdir(out / "listen" / "valid")) == 2 * 2
    import soundfile as sf

    for name in test_items:
        if name.endswith(".wav"):
            clip = next(tiny_esc50.glob(f"audio/{name.replace('_interpretation.wav', '')}.*"))
            assert sf.info(str(out / "listen" / "test" / name)).frames == round(sf.info(str(clip)).duration * 16000)
            assert sf.info(str(out / "listen" / "test" / name)).channels == 1

    # Export of the finished run into another folder: same files, same masks as the recipe's interpreter.
    exported = tmp_path / "exported"
    cmd = [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/export_interpreter.py"),
        str(repo_root / "hparams/lmac_cnn14_cpu.yaml"),
        *TINY,
        *common,
        "--output_folder",
        str(out),
        "--export_folder",
        str(exported),
    ]
    _ok(subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S))
    again = LMACInterpreter.from_hparams(source=str(exported), savedir=str(tmp_path / "cache2"))
    wav = torch.randn(2, 12000) * 0.3
    assert (again.interpret_batch(wav).mask - interp.interpret_batch(wav).mask).abs().max() < 1e-5
    assert (exported / "README.md").read_text(encoding="utf-8") == (out / "interpreter" / "README.md").read_text(
        encoding="utf-8"
    )
    proc = subprocess.run(
        cmd[:-4] + ["--output_folder", str(tmp_path / "nothing"), "--export_folder", str(exported)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert proc.returncode != 0 and "holds no finished run" in proc.stderr

    # Resume: a second epoch continues from the first run's checkpoint.
    log = _ok(_run(repo_root, tmp_path, common + ["--output_folder", str(out), "--number_of_epochs", "2"]))
    assert "Loading a checkpoint" in log and "Going into epoch 2" in log and "Going into epoch 1\n" not in log

    # FT into the finished L-MAC folder must fail loudly, not silently restore that run.
    ft = ["--decoder_init", str(out / "decoder.ckpt")]
    proc = _run(
        repo_root,
        tmp_path,
        common + ft + ["--output_folder", str(out), "--number_of_epochs", "3"],
        "lmac_ft_cnn14_cpu.yaml",
    )
    assert proc.returncode != 0 and "holds checkpoints of stage 'lmac'" in proc.stdout + proc.stderr

    # FT in a new folder starts from the trained decoder and trains.
    ft_out = tmp_path / "ft"
    log = _ok(
        _run(
            repo_root,
            tmp_path,
            common + ft + ["--output_folder", str(ft_out), "--number_of_epochs", "1"],
            "lmac_ft_cnn14_cpu.yaml",
        )
    )
    assert "train ft_gate" in log
    results = json.loads((ft_out / "results.json").read_text(encoding="utf-8"))
    assert results["stage"] == "ft"


def test_conditional_lmac_learns_and_its_mask_depends_on_the_class(toy_classifier_run, repo_root, tmp_path):
    """Trained through the recipe (here on the decision and the labelled class only: on this 2-class
    toy, whose classifier cannot be made to hear the other class, runners-up and random classes only add
    noise in 3 epochs; the label share runs the batch's labels through the sampling), the conditional
    decoder learns as the paper's does (the objective falls, its mask of the decision keeps the decision)
    and answers otherwise when told the other class (the class reaches the mask)."""
    from lmac_brain.data.audio import load_audio
    from lmac_brain.data.noise import NoiseMixer
    from lmac_brain.interface.interpreter import LMACInterpreter

    data, noise, out = toy_classifier_run["data"], toy_classifier_run["noise"], tmp_path / "cond"
    cmd = [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/train_lmac.py"),
        str(repo_root / "hparams/lmac_cnn14_cpu.yaml"),
        "--batch_size",
        "8",
        "--train_crop_s",
        "0.5",
        "--lr",
        "0.02",
        "--download",
        "False",
        "--n_listen_valid",
        "0",
        "--n_listen_test",
        "0",
        "--number_of_epochs",
        "3",
        "--data_folder",
        str(data),
        "--noise_folder",
        str(noise),
        "--output_folder",
        str(out),
        "--classifier_source",
        str(toy_classifier_run["out"] / "classifier"),
        "--conditional",
        "True",
        "--target_sampling",
        "{decision: 0.5, top_k: 0.0, k: 2, label: 0.5, random: 0.0}",
        # the shipped kind: the class reaches the mask only through its code
        "--class_code",
        "4",
        "--spec_gain",
        "False",
    ]
    _ok(subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S))
    losses = _train_losses(out / "train_log.txt")
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0], f"the L-MAC objective did not fall: {losses}"
    lmac = LMACInterpreter.from_hparams(source=str(out / "interpreter")).mods.lmac.eval()
    assert lmac.conditional
    mixer = NoiseMixer(noise, 16000, 0.0, seed=1234, deterministic=True)  # the recipe's test condition
    wavs = torch.stack(
        [mixer(load_audio(p, 16000, normalize=False), p.stem) for p in sorted((data / "audio").glob("5-*.flac"))]
    )
    with torch.no_grad():
        chain = lmac(wavs)  # explains the decision
        decision = chain["logits"].argmax(dim=-1)
        half, _ = lmac.classify(lmac.apply_mask(chain["logmag"], torch.full_like(chain["mask"], 0.5)))
        other = lmac.mask_of(wavs, 1 - decision)["mask"]
    kept_by_lmac = (chain["logits_in"].argmax(dim=-1) == decision).float().mean()
    kept_by_half = (half.argmax(dim=-1) == decision).float().mean()
    assert kept_by_lmac >= kept_by_half + 0.25, (float(kept_by_lmac), float(kept_by_half))
    assert (other - chain["mask"]).abs().mean() > 0.01  # told the other class, it answers otherwise

    # The FT stage continues the conditional decoder: guided only where the sampled class is the label.
    ft = [a if a != str(out) else str(tmp_path / "cond_ft") for a in cmd]
    ft[ft.index(str(repo_root / "hparams/lmac_cnn14_cpu.yaml"))] = str(repo_root / "hparams/lmac_ft_cnn14_cpu.yaml")
    ft[ft.index("--number_of_epochs") + 1] = "1"
    # It also adds a time gate and a coarse block to the trained decoder (warm start: the gate starts at
    # TIME_GATE_INIT and trains; the block starts as the identity).
    from lmac_brain.models.conditioning import TIME_GATE_INIT

    _ok(
        subprocess.run(
            ft + ["--decoder_init", str(out / "decoder.ckpt"), "--time_gate", "True", "--coarse_blocks", "1"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=HANG_S,
        )
    )
    results = json.loads((tmp_path / "cond_ft" / "results.json").read_text(encoding="utf-8"))
    assert results["stage"] == "ft" and math.isfinite(results["test"]["loss"])
    assert "train ft_gate" in (tmp_path / "cond_ft" / "train_log.txt").read_text(encoding="utf-8")
    gated = LMACInterpreter.from_hparams(source=str(tmp_path / "cond_ft" / "interpreter")).mods.lmac.decoder
    assert gated.time_gate and gated.gate.tolist() != list(TIME_GATE_INIT)
    assert gated.config()["coarse_blocks"] == 1  # the FT config takes the shipped kind's options too

    # gate_init takes the trained gate's (a, b) from another decoder (here the start has none, so without it
    # the gate would start at TIME_GATE_INIT); freeze_gate keeps them while the rest of the decoder trains on.
    frozen_run = [a if a != str(tmp_path / "cond_ft") else str(tmp_path / "cond_frozen") for a in ft]
    _ok(
        subprocess.run(
            frozen_run
            + [
                "--decoder_init",
                str(out / "decoder.ckpt"),
                "--time_gate",
                "True",
                "--gate_init",
                str(tmp_path / "cond_ft" / "decoder.ckpt"),
                "--freeze_gate",
                "True",
                "--event_mix_share",
                "0.5",
            ],  # half the clips over another training clip
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=HANG_S,
        )
    )
    condition = json.loads((tmp_path / "cond_frozen" / "results.json").read_text(encoding="utf-8"))["condition"]
    assert "0.5 of training clips mixed over another training clip" in condition
    frozen = LMACInterpreter.from_hparams(source=str(tmp_path / "cond_frozen" / "interpreter")).mods.lmac.decoder
    assert torch.equal(frozen.gate, gated.gate)
    start = torch.load(out / "decoder.ckpt", weights_only=True)
    moved = [n for n, p in start.items() if p.is_floating_point() and not torch.equal(p, frozen.state_dict()[n])]
    assert moved, "nothing trained"
    # a gate_init without a gate is an error that says which file and what to do
    no_gate = [a if a != str(tmp_path / "cond_frozen") else str(tmp_path / "cond_nogate") for a in frozen_run]
    bad = subprocess.run(
        no_gate
        + [
            "--decoder_init",
            str(out / "decoder.ckpt"),
            "--time_gate",
            "True",
            "--gate_init",
            str(out / "decoder.ckpt"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert bad.returncode != 0 and f"{out / 'decoder.ckpt'} holds no time gate" in bad.stdout + bad.stderr
    # gate_values sets (a, b) by hand; with 0 epochs the run only tests and exports that decoder
    regated = [a if a != str(tmp_path / "cond_frozen") else str(tmp_path / "cond_regated") for a in frozen_run]
    regated[regated.index("--number_of_epochs") + 1] = "0"
    _ok(
        subprocess.run(
            regated
            + [
                "--decoder_init",
                str(tmp_path / "cond_frozen" / "decoder.ckpt"),
                "--time_gate",
                "True",
                "--gate_values",
                "[1.5, 2.0]",
                "--freeze_gate",
                "True",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=HANG_S,
        )
    )
    before = torch.load(tmp_path / "cond_frozen" / "decoder.ckpt", weights_only=True)
    after = torch.load(tmp_path / "cond_regated" / "decoder.ckpt", weights_only=True)
    assert after["gate"].tolist() == [1.5, 2.0]
    assert all(torch.equal(before[k], after[k]) for k in before if k != "gate")
    both = subprocess.run(
        regated
        + [
            "--decoder_init",
            str(tmp_path / "cond_frozen" / "decoder.ckpt"),
            "--time_gate",
            "True",
            "--gate_values",
            "[1.5, 2.0]",
            "--gate_init",
            str(tmp_path / "cond_ft" / "decoder.ckpt"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert both.returncode != 0 and "give one of them" in both.stdout + both.stderr
    # without a gate, freezing it is an error that says what to do
    bad_run = [a if a != str(tmp_path / "cond_frozen") else str(tmp_path / "cond_bad") for a in frozen_run]
    bad = subprocess.run(
        bad_run + ["--decoder_init", str(out / "decoder.ckpt"), "--freeze_gate", "True"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert bad.returncode != 0 and "Set time_gate: True" in bad.stdout + bad.stderr


def test_gate_values_are_checked():
    from lmac_brain.models.decoder import LMACDecoder
    from lmac_brain.recipe.runs import _set_gate

    gated = LMACDecoder(
        [64, 32, 16, 8],
        hidden=8,
        out_channels=4,
        conditional=True,
        class_code=4,
        spec_gain=False,
        time_gate=True,
    )
    _set_gate(gated, [1.25, -0.5])
    assert gated.gate.tolist() == [1.25, -0.5]
    for bad in ([1.0], [-1.0, 2.0], [float("nan"), 2.0]):
        with pytest.raises(ValueError, match=r"gate_values must be \[a, b\]"):
            _set_gate(gated, bad)
    plain = LMACDecoder([64, 32, 16, 8], hidden=8, out_channels=4, conditional=True, class_code=4, spec_gain=False)
    with pytest.raises(ValueError, match="the decoder has no gate"):
        _set_gate(plain, [1.0, 2.0])

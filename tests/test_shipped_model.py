"""The shipped interpreter and the README's main command (lmac explain examples/audio)."""

import json

import soundfile as sf

from lmac_brain.cli import DEFAULT_SOURCE, main


def test_main_command_explains_the_examples_with_the_shipped_model(repo_root, tmp_path):
    out = tmp_path / "explanations"
    code = main(["explain", str(repo_root / "examples" / "audio"), "--out", str(out), "--savedir", str(tmp_path / "cache")])
    assert code == 0
    for name in ("siren", "clock_ticks", "barks_in_rain"):
        for suffix in ("_interpretation.wav", "_masked_out.wav", ".png"):
            assert (out / f"{name}{suffix}").is_file()
        info = sf.info(str(out / f"{name}_interpretation.wav"))
        assert info.frames == sf.info(str(repo_root / "examples" / "audio" / f"{name}.wav")).frames
    # A second run keeps the outputs (no --overwrite) and still succeeds.
    assert main(["explain", str(repo_root / "examples" / "audio"), "--out", str(out), "--savedir", str(tmp_path / "cache")]) == 0


def test_shipped_model_has_its_logs_and_metrics(repo_root):
    folder = repo_root / "pretrained" / "lmac_cnn14_cpu_esc50"
    assert str(folder) == DEFAULT_SOURCE
    clf = json.loads((folder / "classifier_metrics.json").read_text(encoding="utf-8"))
    assert clf["test_folds"] == [5] and clf["test_acc"] >= 0.5
    lmac = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert {"AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP"} <= set(lmac["test"])
    for log in ("classifier_train_log.txt", "lmac_train_log.txt"):
        assert "epoch: 1," in (folder / log).read_text(encoding="utf-8")
    weights = sum(p.stat().st_size for p in (repo_root / "pretrained").rglob("*.ckpt"))
    assert weights < 20 * 1024 * 1024


def test_targeted_refinement_makes_the_mask_keep_the_asked_class(repo_root, tmp_path):
    import torch

    from lmac_brain.interface import LMACInterpreter

    interp = LMACInterpreter.from_hparams(source=DEFAULT_SOURCE, savedir=str(tmp_path / "cache"))
    lmac = interp.mods.lmac
    plain, second = interp.interpret_file(str(repo_root / "examples" / "audio" / "barks_in_rain.wav"), top_k=2)
    target = interp.class_index(second.targets[0])

    def masked_in_prob(mask):
        with torch.no_grad():
            logits, _ = lmac.classify(lmac.apply_mask(plain.logmag, mask))
        return float(logits.softmax(-1)[0, target])

    # the decoder's mask explains the decision; the refined one keeps more evidence for class 2
    assert second.refined.all() and second.targets != plain.labels
    assert masked_in_prob(second.mask) > masked_in_prob(plain.mask) + 0.1

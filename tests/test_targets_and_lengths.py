"""Tests of the interpreter's target / top-k explanations and of inputs of any length."""

import numpy as np
import pytest
import torch
from conditional_models import KINDS, LABELS, conditional_lmac

from lmac_brain.data.audio import peak_normalize
from lmac_brain.explain.longform import triangular_weights
from lmac_brain.explain.refine import Refinement

RATE = 16000


def test_target_by_name_or_index_and_the_decision_needs_no_refinement(tiny_interpreter):
    wavs = torch.randn(2, RATE) * 0.3
    plain = tiny_interpreter.interpret_batch(wavs)
    decision = plain.labels
    same = tiny_interpreter.interpret_batch(wavs, target=decision)
    assert torch.equal(same.mask, plain.mask) and not same.refined.any()
    by_index = tiny_interpreter.interpret_batch(wavs, target=[tiny_interpreter.class_index(d) for d in decision])
    assert torch.equal(by_index.mask, plain.mask)
    other = ["rain" if d == "dog" else "dog" for d in decision]
    out = tiny_interpreter.interpret_batch(wavs, target=other, refinement=Refinement(steps=3))
    assert out.targets == other and out.labels == decision and out.refined.all()
    assert not torch.equal(out.mask, plain.mask)
    assert out.mask.shape == plain.mask.shape and out.interpretation.shape == wavs.shape


def test_refinement_of_one_item_does_not_depend_on_the_batch(tiny_interpreter):
    wavs = torch.randn(3, RATE) * 0.3
    both = tiny_interpreter.interpret_batch(wavs, target="rain", refinement=Refinement(steps=4))
    alone = tiny_interpreter.interpret_batch(wavs[1:2], target="rain", refinement=Refinement(steps=4))
    assert (both.mask[1] - alone.mask[0]).abs().max() < 1e-4


def test_top_k_explains_the_k_best_classes_in_order(tiny_interpreter):
    wavs = torch.randn(2, RATE) * 0.3
    first, second = tiny_interpreter.interpret_batch(wavs, top_k=2, refinement=Refinement(steps=2))
    plain = tiny_interpreter.interpret_batch(wavs)
    assert torch.equal(first.mask, plain.mask) and first.targets == plain.labels
    ranked = plain.probs.argsort(dim=-1, descending=True)[:, 1]
    assert second.targets == [["dog", "rain"][int(i)] for i in ranked]
    assert second.refined.all()


@pytest.mark.parametrize(
    "target, match",
    [
        ("dgo", "Unknown target class 'dgo'. Did you mean: dog"),
        (5, "out of range"),
        (["dog"], "1 targets for a batch of 2"),
    ],
)
def test_bad_targets_are_clear_errors(tiny_interpreter, target, match):
    with pytest.raises(ValueError, match=match):
        tiny_interpreter.interpret_batch(torch.randn(2, RATE) * 0.3, target=target)


def test_top_k_and_target_together_or_k_too_large_are_errors(tiny_interpreter):
    with pytest.raises(ValueError, match="either target"):
        tiny_interpreter.interpret_batch(torch.randn(1, RATE), target="dog", top_k=2)
    with pytest.raises(ValueError, match="top_k=3 out of range"):
        tiny_interpreter.interpret_batch(torch.randn(1, RATE), top_k=3)


@pytest.mark.parametrize("seconds", [0.3, 5.0, 60.0])
def test_any_length_keeps_the_input_length(tiny_interpreter, seconds):
    n = int(seconds * RATE)
    wav = torch.randn(1, n) * 0.3
    out = tiny_interpreter.interpret_batch(wav)
    frames = n // tiny_interpreter.mods.lmac.frontend.hop_length + 1
    assert out.mask.shape == (1, frames, 513) and torch.isfinite(out.mask).all()
    assert out.mask.min() >= 0 and out.mask.max() <= 1
    assert out.interpretation.shape == (1, n) and out.masked_out.shape == (1, n)
    assert torch.isfinite(out.interpretation).all()
    expected_windows = 1 if seconds <= 10 else 11  # 10 s windows, 5 s hop
    assert len(out.segments[0]) == expected_windows
    assert out.segments[0][-1].end_s == pytest.approx(seconds, abs=0.02)
    assert abs(float(out.probs.sum()) - 1) < 1e-5


def test_short_input_is_explained_whole_exactly_as_lmac(tiny_interpreter):
    wav = peak_normalize(torch.randn(1, 5 * RATE))  # what the interpreter's input normalisation gives
    out = tiny_interpreter.interpret_batch(wav)
    assert (out.mask - tiny_interpreter.mods.lmac.explain(wav)).abs().max() < 1e-6


def test_long_input_overlap_adds_the_window_masks(tiny_interpreter):
    lmac = tiny_interpreter.mods.lmac
    hop = lmac.frontend.hop_length
    window = 2 * RATE // hop * hop
    n = window * 2 + 5 * hop
    wav = peak_normalize(torch.randn(1, n))  # normalised as a whole, before the windows
    out = tiny_interpreter.interpret_batch(wav, window_s=window / RATE)
    starts = [round(s.start_s * RATE) for s in out.segments[0]]
    assert starts[0] == 0 and all(s % hop == 0 for s in starts)
    masks = [lmac.explain(wav[:, s : s + window])[0] for s in starts]
    # frames only the first window covers equal its mask; an overlapped frame is the weighted mean
    first_only = starts[1] // hop
    assert (out.mask[0, :first_only] - masks[0][:first_only]).abs().max() < 1e-5
    w = triangular_weights(masks[0].shape[0])
    f = starts[1] // hop + 3
    a, b = f - starts[0] // hop, f - starts[1] // hop
    expected = (w[a] * masks[0][a] + w[b] * masks[1][b]) / (w[a] + w[b])
    assert (out.mask[0, f] - expected).abs().max() < 1e-5


def test_long_input_audio_and_spectrogram_equal_the_whole_input_computation(tiny_interpreter):
    from lmac_brain.explain.listen import listenable

    lmac = tiny_interpreter.mods.lmac
    wav = peak_normalize(torch.randn(1, 25 * RATE))
    out = tiny_interpreter.interpret_batch(wav)
    assert len(out.segments[0]) > 1
    logmag, phase = lmac.analyse(wav)
    assert (out.logmag - logmag).abs().max() < 1e-4
    for audio, keep in ((out.interpretation, out.mask), (out.masked_out, 1 - out.mask)):
        assert (
            audio - listenable(lmac.frontend, logmag, phase, keep, wav.shape[1], lmac.mask_domain)
        ).abs().max() < 1e-4


def test_budget_binarises_to_exactly_the_requested_share(tiny_interpreter):
    torch.manual_seed(0)
    wavs = torch.randn(2, 16000) * 0.3
    soft = tiny_interpreter.interpret_batch(wavs)
    for q in (0.02, 0.1, 0.37):
        out = tiny_interpreter.interpret_batch(wavs, budget=q)
        n = out.mask[0].numel()
        assert set(out.mask.unique().tolist()) <= {0.0, 1.0} and out.budget == q
        assert (out.mask.flatten(1).sum(dim=1) == round(q * n)).all()
        # the kept bins are those the soft mask ranks highest
        for b in range(2):
            kept, dropped = soft.mask[b][out.mask[b] == 1], soft.mask[b][out.mask[b] == 0]
            assert kept.min() >= dropped.max()
    with pytest.raises(ValueError, match="budget"):
        tiny_interpreter.interpret_batch(wavs, budget=0.0)


def test_cli_budget_is_recorded_and_shown(tiny_interpreter_folder, tmp_path):
    import json

    import soundfile as sf

    from lmac_brain.interface.cli import main

    sf.write(str(tmp_path / "clip.wav"), 0.3 * np.random.default_rng(0).standard_normal(16000), 16000)
    out = tmp_path / "out"
    assert (
        main(
            [
                "explain",
                str(tmp_path / "clip.wav"),
                "--out",
                str(out),
                "--source",
                str(tiny_interpreter_folder),
                "--budget",
                "0.1",
            ]
        )
        == 0
    )
    record = json.loads((out / "clip.json").read_text(encoding="utf-8"))
    assert record["budget"] == 0.1
    assert "top 10% of the time-frequency bins" in (out / "report.html").read_text(encoding="utf-8")


def test_budget_follows_the_exported_rank_power(tmp_path):
    """A folder exported with rank_power ranks a budget by M**g * log1p|X|; the folder says so, and it loads."""
    from lmac_brain.explain.lmac import LMAC
    from lmac_brain.interface.export import export_interpreter
    from lmac_brain.interface.interpreter import LMACInterpreter
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.decoder import LMACDecoder, rep_channels
    from lmac_brain.models.frontend import Frontend

    enc = tmp_path / "label_encoder.txt"
    enc.write_text("'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n", "utf-8")
    torch.manual_seed(0)
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    lmac = LMAC(
        Frontend(),
        AudioClassifier(emb, torch.nn.Linear(16, 2)),
        LMACDecoder(rep_channels(emb), hidden=4, out_channels=2),
        rank_power=2.0,
    )
    folder = export_interpreter(str(tmp_path / "interp"), lmac, str(enc), {}, "# tiny")
    assert "rank_power: 2.0" in (tmp_path / "interp" / "hyperparams.yaml").read_text(encoding="utf-8")
    interp = LMACInterpreter.from_hparams(source=folder)
    assert interp.mods.lmac.rank_power == 2.0
    wavs = torch.randn(2, 16000) * 0.3
    soft = interp.interpret_batch(wavs)
    out = interp.interpret_batch(wavs, budget=0.1)
    scores = soft.mask.pow(2.0) * interp.mods.lmac.analyse(soft.input)[0]
    assert (out.mask.flatten(1).sum(dim=1) == round(0.1 * out.mask[0].numel())).all()
    for b in range(2):
        assert scores[b][out.mask[b] == 1].min() >= scores[b][out.mask[b] == 0].max()
    # and it is not the ranking of the mask alone
    from lmac_brain.explain.budget_masks import keep_top

    assert not torch.equal(out.mask, keep_top(soft.mask, 0.1))


@pytest.mark.parametrize("kind", ["code", "time gate"])
def test_interpreter_target_grammar_and_top_k_give_each_class_alone(tmp_path, kind):
    from lmac_brain.interface.export import export_interpreter
    from lmac_brain.interface.interpreter import LMACInterpreter

    lmac = conditional_lmac(**KINDS[kind])
    enc = tmp_path / "label_encoder.txt"
    enc.write_text(LABELS, encoding="utf-8")
    folder = export_interpreter(str(tmp_path / "interp"), lmac, str(enc), {}, "# card")
    interp = LMACInterpreter.from_hparams(source=folder)
    assert interp.mods.lmac.conditional and interp.mods.lmac.decoder.config() == lmac.decoder.config()
    wavs = torch.randn(2, 16000) * 0.3
    by_name = interp.interpret_batch(wavs, target="wind")
    by_index = interp.interpret_batch(wavs, target=2)
    by_list = interp.interpret_batch(wavs, target=["wind", 2])
    assert torch.equal(by_name.mask, by_index.mask) and torch.equal(by_name.mask, by_list.mask)
    assert not by_name.refined.any() and by_name.targets == ["wind", "wind"]
    ranked = interp.interpret_batch(wavs, top_k=3)
    order = ranked[0].probs.topk(3, dim=-1).indices
    for r, one in enumerate(ranked):
        alone = interp.interpret_batch(wavs, target=order[:, r].tolist())
        assert torch.allclose(one.mask, alone.mask, atol=1e-5) and one.targets == alone.targets
        assert torch.allclose(one.interpretation, alone.interpretation, atol=1e-4)


def test_cli_refine_flag_with_a_conditional_interpreter(tmp_path):
    import json

    import numpy as np
    import soundfile as sf

    from lmac_brain.interface.cli import main
    from lmac_brain.interface.export import export_interpreter

    enc = tmp_path / "label_encoder.txt"
    enc.write_text(LABELS, encoding="utf-8")
    folder = export_interpreter(str(tmp_path / "interp"), conditional_lmac(), str(enc), {}, "# card")
    sf.write(str(tmp_path / "clip.wav"), np.random.default_rng(0).standard_normal(16000) * 0.1, 16000)
    refined = {}
    for flag in ([], ["--refine"]):
        out = tmp_path / ("refined" if flag else "plain")
        args = [
            "explain",
            str(tmp_path / "clip.wav"),
            "--out",
            str(out),
            "--source",
            folder,
            "--no-report",
            "--top-k",
            "2",
        ]
        assert main(args + flag) == 0
        record = json.loads(next(out.glob("*_top2_*.json")).read_text(encoding="utf-8"))
        refined[bool(flag)] = record["refined"]
    assert refined == {False: False, True: True}

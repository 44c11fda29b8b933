"""Tests of the matched-budget metrics (lmac_brain.evaluation.budget) and the floors (lmac_brain.explain.floors) on
hand-made cases."""

import pytest
import torch

from lmac_brain.evaluation.budget import BUDGETS, budget_curves, normalized_auc
from lmac_brain.explain.budget_masks import keep_top, rank_bins
from lmac_brain.explain.floors import Energy, Random
from lmac_brain.models.frontend import Frontend


class EvidenceClassifier(torch.nn.Module):
    """Class 0's logit is the mean log-magnitude on a fixed set of 'evidence' bins; class 1's is constant."""

    def __init__(self, evidence: torch.Tensor):
        super().__init__()
        self.evidence = evidence.float()

    def forward(self, logmag):
        score = (logmag * self.evidence).flatten(1).sum(dim=1) / self.evidence.sum()
        return torch.stack([8.0 * score, torch.full_like(score, 2.0)], dim=1)


def _setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    logmag = torch.rand(4, 20, 30, generator=g) + 0.5
    evidence = torch.zeros(20, 30)
    evidence[5:8, 10:14] = 1.0  # 12 of 600 bins (2%) carry the class
    return logmag, EvidenceClassifier(evidence), evidence


def test_oracle_ranking_beats_random_and_energy():
    logmag, model, evidence = _setup()
    target = torch.zeros(4, dtype=torch.long)
    apply = lambda x, m: x * m  # noqa: E731 (the log1p mask domain)
    aucs = {}
    for name, mask in (
        ("oracle", evidence.expand_as(logmag) + 0.01 * torch.rand_like(logmag)),
        ("energy", logmag),
        ("random", torch.rand_like(logmag)),
    ):
        curves = budget_curves(model, logmag, mask, target, apply)
        aucs[name] = (normalized_auc(curves["insertion"]).mean(), normalized_auc(curves["deletion"]).mean())
    assert aucs["oracle"][0] > aucs["random"][0] + 0.2 and aucs["oracle"][0] > aucs["energy"][0] + 0.2
    assert aucs["oracle"][1] < aucs["random"][1] - 0.2 and aucs["oracle"][1] < aucs["energy"][1] - 0.2


def test_keep_top_bins_keeps_exactly_the_share_and_the_highest():
    mask = torch.rand(3, 20, 30)
    for q in BUDGETS + (0.0, 1.0):
        kept = keep_top(mask, q)
        assert set(kept.unique().tolist()) <= {0.0, 1.0}
        assert (kept.flatten(1).sum(dim=1) == round(q * 600)).all()
        if 0 < q < 1:  # every kept bin scores at least as high as every dropped one
            assert (mask[kept == 1].view(3, -1).amin(dim=1) >= mask[kept == 0].view(3, -1).amax(dim=1)).all()


def test_ties_are_broken_by_a_seeded_order():
    flat = torch.zeros(2, 10, 10)
    a, b = keep_top(flat, 0.1, seed=7), keep_top(flat, 0.1, seed=7)
    assert torch.equal(a, b) and a.sum() == 20
    assert torch.equal(a[0], a[1])  # the same order for every item: independent of batching
    assert not torch.equal(a, keep_top(flat, 0.1, seed=8))
    # A tie between two values keeps the higher value first, whatever the seed.
    mask = torch.zeros(1, 10, 10)
    mask[0, 3, 3] = 1.0
    for seed in range(5):
        assert int(rank_bins(mask, seed)[0, 0]) == 33


def test_matched_energy_budget_sums_as_specified():
    g = torch.Generator().manual_seed(1)
    logmag = torch.rand(2, 15, 20, generator=g) * 3
    mask = torch.rand(2, 15, 20, generator=g)
    energy = logmag.double().expm1().square().flatten(1)
    for q in (0.05, 0.2, 0.5):
        kept = keep_top(mask, q, by="energy", logmag=logmag).flatten(1).bool()
        order = rank_bins(mask)
        for b in range(2):
            share = energy[b][kept[b]].sum() / energy[b].sum()
            assert share >= q - 1e-6
            # the fewest top-ranked bins: without the last one the share is below q
            n = int(kept[b].sum())
            assert kept[b][order[b, :n]].all() and not kept[b][order[b, n:]].any()
            assert energy[b][order[b, : n - 1]].sum() / energy[b].sum() < q


def test_energy_floor_is_its_definition_and_random_is_seeded():
    fe = Frontend()
    g = torch.Generator().manual_seed(0)
    wavs = torch.randn(2, 8000, generator=g)
    logmag, _ = fe.log_magnitude_phase(wavs)
    mask = Energy(fe).explain(wavs)
    assert torch.allclose(mask, logmag / logmag.flatten(1).amax(dim=1)[:, None, None])
    ranked = torch.gather(logmag.flatten(1), 1, rank_bins(mask))  # loudest first (up to float ties)
    assert (ranked[:, 1:] <= ranked[:, :-1] + 1e-6).all()
    r = Random(fe, seed=3)
    assert torch.equal(r.explain(wavs), r.explain(wavs))
    assert not torch.equal(r.explain(wavs), Random(fe, seed=4).explain(wavs))
    assert r.explain(wavs).shape == logmag.shape


def test_auc_normalisation_and_bad_budgets():
    assert normalized_auc(torch.full((2, 6), 0.7)).tolist() == pytest.approx([0.7, 0.7])
    with pytest.raises(ValueError, match="out of range"):
        keep_top(torch.rand(1, 4, 4), 1.5)
    with pytest.raises(ValueError, match="needs logmag"):
        keep_top(torch.rand(1, 4, 4), 0.5, by="energy")


def test_budget_objective_trains_the_ranking_of_the_decoder():
    """A decoder trained on the matched-budget objective alone learns to rank the evidence bins first."""
    from lmac_brain.explain.budget_masks import soft_keep_top
    from lmac_brain.explain.objective import budget_loss

    torch.manual_seed(0)
    logmag, model, evidence = _setup()
    target = torch.zeros(4, dtype=torch.long)
    scores = torch.zeros(1, 20, 30, requires_grad=True)  # one shared score map, like a decoder's output
    opt = torch.optim.Adam([scores], lr=0.1)

    def insertion_auc():
        curves = budget_curves(model, logmag, scores.detach().expand_as(logmag), target, lambda x, m: x * m)
        return float(normalized_auc(curves["insertion"]).mean())

    before = insertion_auc()
    for step in range(60):
        q = BUDGETS[step % len(BUDGETS)]
        soft = soft_keep_top(scores.expand_as(logmag), q)
        loss, _ = budget_loss(model(logmag * soft), model(logmag * (1 - soft)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert insertion_auc() > before + 0.2
    top = keep_top(scores.detach(), 0.02)[0].bool()
    assert evidence[top].mean() > 0.8  # the kept 2% are mostly the evidence bins


def test_curves_explain_the_decision_without_a_target():
    logmag, model, evidence = _setup()
    apply = lambda x, m: x * m  # noqa: E731
    decided = budget_curves(model, logmag, logmag, None, apply)
    decision = model(logmag).argmax(dim=-1)
    given = budget_curves(model, logmag, logmag, decision, apply)
    assert torch.equal(decided["target"], decision)
    for part in ("insertion", "deletion", "full"):
        assert torch.allclose(decided[part], given[part])
    no_full = budget_curves(model, logmag, logmag, decision, apply, full=False)
    assert "full" not in no_full and torch.allclose(no_full["deletion"], given["deletion"])
    with pytest.raises(ValueError, match="needs a target"):
        budget_curves(model, logmag, logmag, None, apply, full=False)


@pytest.mark.slow
def test_compiled_scorer_gives_the_same_rows_as_the_eager_one():
    """eval.py's --compile_scorer: same budget rows (the compiled classifier differs by float rounding only)."""
    from lmac_brain.evaluation.evaluate import budget_rows
    from lmac_brain.evaluation.scoring import scoring_model
    from lmac_brain.models.classifier import AudioClassifier, Cnn14

    torch.manual_seed(0)
    fe = Frontend()
    clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3)).eval()
    for p in clf.parameters():  # non-trivial batch-norm statistics, so that folding them matters
        torch.nn.init.normal_(p, std=0.3)
    for m in clf.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    items = [(f"c{i}", torch.randn(8000), None) for i in range(4)]
    eager = budget_rows("Energy", Energy(fe), "demo", items, fe, clf, "log1p", 4)
    compiled = budget_rows(
        "Energy", Energy(fe), "demo", items, fe, clf, "log1p", 4, scorer=scoring_model(fe, clf, compile=True)
    )
    assert len(eager) == len(compiled) == 4
    for a, b in zip(eager, compiled):
        assert a.keys() == b.keys() and a["item"] == b["item"]
        for key in a:
            if isinstance(a[key], float) and key != "sec/clip":  # timings differ, the metrics do not
                assert a[key] == pytest.approx(b[key], abs=1e-4), key


@pytest.mark.slow
def test_compiled_scorer_is_frozen():
    """--compile_scorer's speed comes from inductor's freezing (weights folded and pre-packed as
    constants). Frozen, the compiled scorer keeps the weights it was compiled with; without freezing
    (weights as graph inputs, what ``torch.compile(options={"freezing": True})`` gave) it follows them."""
    from lmac_brain.evaluation.scoring import scoring_model
    from lmac_brain.models.classifier import AudioClassifier, Cnn14

    torch.manual_seed(0)
    fe = Frontend()
    clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3)).eval()
    logmag = fe.log_magnitude(torch.randn(2, 8000))
    eager, compiled = scoring_model(fe, clf), scoring_model(fe, clf, compile=True)
    with torch.no_grad():
        before = compiled(logmag)
        assert torch.allclose(before, eager(logmag), atol=1e-4)
        clf.head.bias.add_(1.0 + torch.arange(3.0))  # changes every logit, differently per class
        assert not torch.allclose(eager(logmag), before, atol=0.5)
        assert torch.allclose(compiled(logmag), before, atol=1e-5)


def test_shared_decisions_give_the_same_rows_with_one_whole_input_pass_fewer():
    """eval.py's decisions cache: a second method reads each item's decision and p(full) instead of
    classifying the whole input again, with the same rows as without the cache."""
    from lmac_brain.evaluation.evaluate import budget_rows
    from lmac_brain.evaluation.scoring import scoring_model
    from lmac_brain.models.classifier import AudioClassifier, Cnn14

    torch.manual_seed(0)
    fe = Frontend()
    clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3)).eval()
    items = [(f"c{i}", torch.randn(8000), None) for i in range(3)]
    model = scoring_model(fe, clf)
    calls = []

    def counting(x):
        calls.append(x.shape[0])
        return model(x)

    decisions = {}
    budget_rows("Energy", Energy(fe), "demo", items, fe, clf, "log1p", 3, scorer=counting, decisions=decisions)
    assert set(decisions) == {"c0", "c1", "c2"} and sum(calls) == 3 * (4 * len(BUDGETS) + 1)
    calls.clear()
    cached = budget_rows("Random", Random(fe), "demo", items, fe, clf, "log1p", 3, scorer=counting, decisions=decisions)
    assert sum(calls) == 3 * 4 * len(BUDGETS)  # no pass over the whole inputs
    plain = budget_rows("Random", Random(fe), "demo", items, fe, clf, "log1p", 3)
    for a, b in zip(cached, plain):
        for key in a:
            if key != "sec/clip":
                assert a[key] == pytest.approx(b[key], abs=1e-6), key


def test_budget_objective_under_rank_power_reaches_the_decoder():
    """With rank_power the training ranking is log(M**g * log1p|X|): its exact top-q forward, gradients to the
    decoder."""
    from lmac_brain.explain.lmac import LMAC
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.decoder import LMACDecoder, rep_channels

    torch.manual_seed(0)
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    lmac = LMAC(
        Frontend(),
        AudioClassifier(emb, torch.nn.Linear(16, 3)),
        LMACDecoder(rep_channels(emb), hidden=4, out_channels=2),
        rank_power=2.0,
    )
    out = lmac.mask_of(torch.randn(2, 16000))
    kept, removed = lmac.budget_logits(out, [0.1])
    (kept.sum() - removed.sum()).backward()
    grads = [p.grad for p in lmac.decoder.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    with pytest.raises(ValueError, match="rank_power"):
        LMAC(Frontend(), lmac.classifier, lmac.decoder, rank_power=-1.0)

#!/usr/bin/env python3
"""What the librosa figures cost `lmac explain` on the example recordings, measured in one run.

    python bench/figure_time.py [--repeats 3]

Prints (1) the time of the first figure in a fresh interpreter (matplotlib imported; for librosa this
includes importing ``librosa.display`` and whatever it loads on first use), median of ``--repeats``,
(2) the time to draw and save every example's figure with
:func:`lmac_brain.explain.figure.plot_interpretation` (librosa ``specshow``, log-frequency axis in Hz)
and with a plain matplotlib ``imshow`` of the same three panels on a linear axis (what the figures were
before), and (3) the extra seconds for the whole example folder and their ratio. The acceptance is an
extra cost under 1 s for ``lmac explain examples/audio``.

Authors
 * lmac_brain contributors 2026
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from lmac_brain.data.audio import load_audio
from lmac_brain.explain.figure import plot_interpretation
from lmac_brain.interface.cli import DEFAULT_SOURCE
from lmac_brain.interface.interpreter import LMACInterpreter

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imshow_figure(path, logmag, mask, masked, sample_rate, hop_length, title, class_names, probs):
    """The figure as it was before librosa (matplotlib imshow, linear kHz axis, constrained layout)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 4, figsize=(16.8, 3.6), constrained_layout=True)
    extent = [0, logmag.shape[0] * hop_length / sample_rate, 0, sample_rate / 2000]
    vmax = float(logmag.max()) or 1.0
    for ax, name, data in zip(axes, ("input log1p|X|", "mask", "masked-in log1p|X|"), (logmag, mask, masked)):
        limits = (0.0, 1.0) if name == "mask" else (0.0, vmax)
        image = ax.imshow(data.numpy().T, origin="lower", aspect="auto", extent=extent, vmin=limits[0], vmax=limits[1])
        ax.set_title(name)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (kHz)")
        fig.colorbar(image, ax=ax)
    top = torch.topk(probs, k=5)
    axes[-1].barh(np.arange(5)[::-1], top.values.numpy())
    axes[-1].set_yticks(np.arange(5)[::-1], [class_names[i] for i in top.indices.tolist()])
    axes[-1].set_xlim(0, 1)
    axes[-1].set_title("class probabilities")
    fig.suptitle(title)
    fig.savefig(path, dpi=80, format="png")
    plt.close(fig)


def first_figure(kind: str) -> float:
    """Seconds to draw the first figure of a fresh interpreter (matplotlib already imported)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  (imported by either variant before the clock starts)

    data, probs = torch.rand(431, 513), torch.rand(50).softmax(0)
    draw = plot_interpretation if kind == "librosa" else imshow_figure
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        draw(
            os.path.join(tmp, "first.png"),
            data,
            data,
            data,
            16000,
            186,
            title="x",
            class_names=[str(i) for i in range(50)],
            probs=probs,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--first", choices=["librosa", "imshow"], help="(internal) time one first figure and exit")
    args = parser.parse_args()
    if args.first:
        print(first_figure(args.first))
        return
    first = {
        kind: statistics.median(
            float(
                subprocess.run(
                    [sys.executable, __file__, "--first", kind], capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(args.repeats)
        )
        for kind in ("librosa", "imshow")
    }
    folder = os.path.join(REPO, "examples", "audio")
    with tempfile.TemporaryDirectory() as tmp:
        interp = LMACInterpreter.from_hparams(source=DEFAULT_SOURCE, savedir=os.path.join(tmp, "cache"))
        fe = interp.mods.lmac.frontend
        names = [interp.hparams.label_encoder.decode_ndim(i) for i in range(len(interp.hparams.label_encoder))]
        items = []
        for name in sorted(os.listdir(folder)):
            out = interp.interpret_batch(load_audio(os.path.join(folder, name), fe.sample_rate).unsqueeze(0))
            masked = interp.mods.lmac.apply_mask(out.logmag, out.mask)
            items.append(
                (name, out.logmag[0].detach(), out.mask[0].detach(), masked[0].detach(), out.probs[0].detach())
            )
        timings = {"librosa": [], "imshow": []}
        for _ in range(args.repeats):
            for kind in timings:
                start = time.perf_counter()
                for name, logmag, mask, masked, probs in items:
                    path = os.path.join(tmp, f"{kind}_{name}.png")
                    draw = plot_interpretation if kind == "librosa" else imshow_figure
                    draw(
                        path,
                        logmag,
                        mask,
                        masked,
                        fe.sample_rate,
                        fe.hop_length,
                        title=name,
                        class_names=names,
                        probs=probs,
                    )
                timings[kind].append(time.perf_counter() - start)
    librosa_s, imshow_s = statistics.median(timings["librosa"]), statistics.median(timings["imshow"])
    extra = (first["librosa"] - first["imshow"]) + librosa_s - imshow_s
    print(
        f"first figure in a fresh interpreter: librosa {first['librosa']:.3f} s, imshow {first['imshow']:.3f} s "
        f"(median of {args.repeats})"
    )
    print(
        f"{len(items)} example figures: librosa specshow {librosa_s:.3f} s, imshow {imshow_s:.3f} s "
        f"(ratio {librosa_s / imshow_s:.2f}x)"
    )
    print(
        f"extra time for `lmac explain examples/audio` (first-figure difference + all figures' difference): "
        f"{extra:.3f} s (target: < 1 s)"
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()

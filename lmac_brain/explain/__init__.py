"""Explainers behind one verb, ``explain(wavs, target=None) -> mask``: L-MAC, the attribution baselines, the
floors, test-time refinement, the optimised-mask reference, long inputs, and the listenable audio of a mask."""

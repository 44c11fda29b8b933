"""Training: the SpeechBrain Brains, the L-MAC objective, mixup, the runs the recipes wire, checkpointing,
distributed reductions and random-state recovery."""

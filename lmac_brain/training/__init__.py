"""Training: the SpeechBrain Brains, mixup, class balance, checkpointing, distributed reductions and
random-state recovery (the objective they minimise is :mod:`lmac_brain.explain.objective`)."""

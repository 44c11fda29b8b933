"""What every recipe wires: experiment start-up and manifests, then the classifier and L-MAC runs (train,
test, export the folders of ``lmac_brain.interface``). The top layer: it may import every other
sub-package, and none imports it."""

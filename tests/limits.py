"""Limits shared by the tests."""

#: Seconds after which a test's subprocess counts as hung. A guard against hangs only, never a speed
#: requirement: the suite must pass on one loaded core too (README's test command under ``taskset -c 0``,
#: beside another CPU-heavy process).
HANG_S = 1800

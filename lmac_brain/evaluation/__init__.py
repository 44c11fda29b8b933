"""Evaluation: faithfulness metrics, matched-budget curves, seeded evaluation sets, localization, the sanity
check, the evaluation run and its result tables."""

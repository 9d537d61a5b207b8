"""Search, model-free: hypotheses over any `step(tokens, state) -> (log_probs, state)`.

    scoring.py      what hypotheses rank by (Hypothesis, normalise); no torch
    constraints.py  lexically constrained search (dynamic beam allocation) as a strategy; no torch
    repeats.py      no repeated word n-grams; no torch
    topk.py         a fast row top-k with ties to the lower column (torch)
    beam.py         the beam loop (torch) with its plain and constrained strategies, and greedy search

The NumPy decoder (lite/search.py) runs a twin of beam.py's loop with the same strategies: constraints.py's
is shared, the plain one is written twice on purpose (the torch one is tuned for speed on device).
Nothing is imported here, so that importing a torch-free module of the package never imports torch.
"""

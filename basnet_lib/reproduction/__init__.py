"""The reproduction layer: the experiment grid and its notebooks, Tables 1 and 3 beside the paper's,
the claims' verdicts, the architecture tables, the figures' predictions, and ``REPORT.md``.

It builds on the engine (training, evaluation, run directories) and draws with
:mod:`basnet_lib.plots`; the notebooks and ``basnet reproduce`` call it.
"""

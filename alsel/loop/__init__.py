"""The active-learning loop with binary feedback (Algorithm 1 of the paper), end to end.

Needs the ``loop`` extra (torch, scikit-learn, matplotlib, jsonschema; tqdm is a core dependency): ``pip install 'alsel[loop]'``.

=================  ==============================================================
module             its one job
=================  ==============================================================
``config``         the typed config of ``alsel run`` (pydantic); errors name the key
``engine``         config -> data source, model, trainer, oracles -> loops
``loop``           one run of Algorithm 1 on one store
``train``          training on pixel labels + yes/no answers (or the user's step)
``scoring``        presence p, features, pixel entropy of the pool (through alsel.torch)
``metrics``        mIoU over images of any sizes
``losses``         the losses of alsel.torch.losses under the loop's names
``store``          the answer store (atomic JSON, answers with provenance)
``store_check``    validation of a whole store file (schema and consistency)
``oracles``        simulated, terminal and CSV oracles
``strategies``     proposed, RR, EE, pixel-random, pixel-entropy
``strategies_region``  SSAL, PixBal, AMSP+S (the paper's other baselines)
``regions``        superpixels, merging, dominant labels, sieving (scikit-image SLIC)
``pixels``         per-pixel predictions of the candidates, on demand
``selftrain``      SSAL's self-training (pseudo-labels of confident pixels)
``costs``          Table 1 annotation times
``results``        result rows, results.csv, summaries
``plots``          the two plots
``experiment``     the names of the above in one place
=================  ==============================================================

The data sources are in :mod:`alsel.datasets`, the models (the demo's TinyUNet) in :mod:`alsel.models`.
docs/loop.md describes the loss and the loop; docs/experiment.md a run.
"""

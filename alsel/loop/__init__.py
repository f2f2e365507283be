"""The active-learning loop with binary feedback (Algorithm 1 of the paper), end to end.

Needs the ``loop`` extra (torch, scikit-learn, matplotlib, jsonschema; tqdm is a core dependency): ``pip install 'alsel[loop]'``.

=================  ==============================================================
module             its one job
=================  ==============================================================
``data``           digit scenes: segmentation data from scikit-learn's digits
``model``          a compact U-Net
``losses``         LSE pooling, masked image-level BCE, the combined loss
``train``          training on pixel labels + yes/no answers
``scoring``        presence p, features, pixel entropy of the pool (through alsel.torch)
``store``          the answer store (atomic JSON, answers with provenance)
``store_check``    validation of a whole store file (schema and consistency)
``oracles``        simulated, terminal and CSV oracles
``strategies``     proposed, RR, EE, pixel-random, pixel-entropy
``strategies_region``  SSAL, PixBal, AMSP+S (the paper's other baselines)
``regions``        superpixels, merging, dominant labels, sieving (scikit-image SLIC)
``pixels``         per-pixel predictions of the candidates, on demand
``selftrain``      SSAL's self-training (pseudo-labels of confident pixels)
``costs``          Table 1 annotation times
``metrics``        mIoU
``loop``           one run of Algorithm 1 on one store
``experiment``     config -> runs -> results.csv and plots (``alsel run``)
=================  ==============================================================

docs/loop.md describes the loss and the loop; docs/experiment.md a run.
"""

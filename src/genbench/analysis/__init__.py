"""The analyses the lectures use autoencoders for (issue 3), one module each, as pure functions
of an encoder/decoder and tensors; :mod:`genbench.analysis.runner` runs them for one model in
the ``evaluate@<model>`` stage, after the sample metrics.

- :mod:`.interpolation`: pixel-space vs latent-space paths between test images (seed 000);
- :mod:`.tangents`: SVD of the encoder Jacobian (seed 002 "Getting tangent vectors");
- :mod:`.inpainting`: the pseudo-inverse fill-in of a hidden region (seed 000);
- :mod:`.anomaly`: one-class anomaly detection by reconstruction error, AUROC (seeds 000/001);
- :mod:`.probe`: linear probe on frozen codes vs raw pixels vs PCA codes;
- :mod:`.finetune`: an encoder fine-tuned as a classifier from few labels, pretrained vs not;
- :mod:`.robustness`: reconstruction error of corrupted inputs (DAE/CAE vs AE);
- :mod:`.latent`: 2-D latent scatter and the decoded grid (Bios 740 "gaps in the AE latent").

Every analysis feeds the models [0, 1] grey images (the VAE's encoder too), so numbers compare
across models.
"""

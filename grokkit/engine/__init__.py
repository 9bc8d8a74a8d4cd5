"""What trains: one run's setup, the papers' models and optimizers, and the batched trainer.

==============  ==============================================================================
``config``      :class:`RunConfig`: a run's complete, validated, hashable setup (its store key)
``protocols``   ``paper1``, ``paper2``, ``paper3``: the papers' protocols as config factories
``tasks``       modular arithmetic and sparse parity, per-run train/test splits
``models``      the papers' models, batched along a leading run axis
``optim``       batched AdamW (decay before or after the Adam step), SGD and Muon, per-run hyperparameters
``clamp``       the weight-norm clamp and its per-run schedule
``metrics``     accuracies, losses, weight norms, logit scale, softmax collapse
``batch``       :class:`RunBatch`: every per-run tensor of a batch in flight, one ``select``
``events``      a run's record: its evaluations, T_mem, T_grok, crossings, divergence
``summary``     a finished run's summary and provenance
``trainer``     :class:`Trainer`: the loop (``run``, ``step``, ``fork``) over one batch of runs
``kernels``     fused CPU kernels of the MLP's step, AdamW and the clamp norm (``kernels.cpp``)
``shards``      run shards: a CPU batch split by runs across threads
``process``     the allocator and OpenMP settings applied where training starts
==============  ==============================================================================

The engine knows nothing of the run store, of sweeps or of chapters. ``config`` and
``protocols`` do not import torch.
"""

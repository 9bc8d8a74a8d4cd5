"""Tasks: the modular splits, including multiplication over the nonzero residues."""

from __future__ import annotations

import torch

from grokkit import paper1, paper3
from grokkit.engine.tasks import all_pairs, make_run_data, modular_labels


def test_all_pairs_in_a_major_order():
    pairs = all_pairs(3)
    assert pairs.tolist() == [[a, b] for a in range(3) for b in range(3)]
    assert all_pairs(5, nonzero=True).tolist() == [[a, b] for a in range(1, 5) for b in range(1, 5)]


def test_multiplication_over_the_nonzero_residues_leaves_out_zero():
    cfg = paper3(task="mul_nonzero", p=13, train_frac=0.5)
    assert cfg.n_pairs == 144 and cfg.n_train == 72
    data = make_run_data(cfg, torch.Generator().manual_seed(cfg.base_seed))
    assert data.eval_x.shape == (144, 2) and int(data.eval_x.min()) == 1
    assert int(data.eval_y.min()) >= 1  # a*b mod p is never 0 for nonzero a, b mod a prime
    assert torch.equal(data.eval_y, modular_labels(data.eval_x, 13, "mul"))
    assert int(data.eval_is_train.sum()) == 72 and len(data.train_y) == 72


def test_the_nonzero_task_is_its_own_run_and_leaves_other_keys_alone():
    mul = paper3(task="mul", p=13)
    assert paper3(task="mul_nonzero", p=13).key != mul.key
    assert paper1(p=13).n_pairs == 169

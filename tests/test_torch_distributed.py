"""predict_pool / pool_scores / knn_redundancy under torch.distributed: 2 CPU processes (gloo)
started by torchrun, against one process in this test.

One torchrun launch runs every scenario of tests/torch_distributed_worker.py (the processes
start in seconds, the scenarios in milliseconds); the tests below read what each process got.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not (dist.is_available() and dist.is_gloo_available()):  # pragma: no cover
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from alsel.torch import knn_redundancy, pool_scores, predict_pool  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import torch_distributed_worker as worker  # noqa: E402

RANKS = (0, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node 2 script args`` on 127.0.0.1, seeing this checkout's alsel."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo on the loopback interface, whatever the hostname
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        str(script), *args,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    torchrun(HERE / "torch_distributed_worker.py", str(out))
    results = []
    for rank in RANKS:
        with np.load(out / f"rank{rank}.npz") as arrays:
            results.append(({k: arrays[k] for k in arrays.files}, json.loads(
                (out / f"rank{rank}.json").read_text()
            )))
    return results


@pytest.fixture(scope="module")
def one_process():
    """The single-process results, with one thread as torchrun gives each process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = worker.model()
        prediction = predict_pool(net, worker.list_pool(), features="backbone", progress=False)
        G, R = pool_scores(net, worker.list_pool(), features="backbone", progress=False)
        _, R_knn = pool_scores(net, worker.list_pool(), features="backbone", knn=3, progress=False)
        logits_only = predict_pool(net, worker.list_pool(), progress=False)
        R_blocks = knn_redundancy(worker.images().flatten(1)[:, :10], 4, chunk_size=3)
    finally:
        torch.set_num_threads(threads)
    return {
        "p": prediction.p, "features": prediction.features, "G": G, "R": R,
        "R_knn": R_knn.toarray(), "alone.p": logits_only.p, "R_blocks": R_blocks.toarray(),
    }  # fmt: skip


def test_a_pool_passed_whole_to_every_process_gives_the_one_process_result_exactly(
    ranks, one_process
):
    # the model ran on batches 0, 2, 4 (12 images) in process 0 and 1, 3, 5 (11) in process 1
    assert [notes["list.images_seen"] for _, notes in ranks] == [12, 11]
    for arrays, notes in ranks:
        assert notes["list.none"] is False
        assert arrays["list.p"].shape == (worker.N_IMAGES, worker.C)
        # the same batches through the same model: bit for bit
        np.testing.assert_array_equal(arrays["list.p"], one_process["p"])
        np.testing.assert_array_equal(arrays["list.features"], one_process["features"])


def test_a_distributed_sampler_shard_with_padding_gives_the_one_process_result(
    ranks, one_process
):
    # 23 images over 2 processes: the sampler pads rank 1's shard with image 0 again; it is
    # kept once. The batches differ from one process's (other images side by side), which a
    # convolution on the CPU does not see: still bit for bit.
    assert [notes["sampler.images_seen"] for _, notes in ranks] == [12, 12]
    for arrays, notes in ranks:
        for name in ("sampler", "shuffled"):
            assert arrays[f"{name}.p"].shape == (worker.N_IMAGES, worker.C)
            np.testing.assert_array_equal(arrays[f"{name}.p"], one_process["p"])
            np.testing.assert_array_equal(arrays[f"{name}.features"], one_process["features"])


def test_dst_gives_the_result_to_that_process_only(ranks, one_process):
    (zero, zero_notes), (one, one_notes) = ranks
    assert zero_notes["list_dst1.none"] is True and "list_dst1.p" not in zero
    assert one_notes["list_dst1.none"] is False
    np.testing.assert_array_equal(one["list_dst1.p"], one_process["p"])
    np.testing.assert_array_equal(one["list_dst1.features"], one_process["features"])
    assert one_notes["knn_dst0.none"] is True and zero_notes["knn_dst0.none"] is False
    np.testing.assert_array_equal(zero["knn_dst0.R"], one_process["R_knn"])


def test_distributed_false_scores_the_whole_pool_alone(ranks, one_process):
    for arrays, _ in ranks:
        np.testing.assert_array_equal(arrays["alone.p"], one_process["alone.p"])


def test_pool_scores_dense_and_knn_match_one_process(ranks, one_process):
    for arrays, _ in ranks:
        np.testing.assert_array_equal(arrays["dense.G"], one_process["G"])
        np.testing.assert_array_equal(arrays["dense.R"], one_process["R"])
        np.testing.assert_array_equal(arrays["knn.G"], one_process["G"])
        np.testing.assert_array_equal(arrays["knn.R"], one_process["R_knn"])
        # a real kNN pattern: fewer entries than the dense R, more than the diagonal
        assert worker.N_IMAGES < np.count_nonzero(arrays["knn.R"]) < worker.N_IMAGES**2


def test_knn_rows_shared_out_by_blocks_match_one_process(ranks, one_process):
    for arrays, _ in ranks:
        np.testing.assert_array_equal(arrays["knn_blocks.R"], one_process["R_blocks"])


def test_a_pool_sharded_by_hand_is_refused_on_every_process(ranks):
    for _, notes in ranks:
        kind, message = notes["by_hand.error"]
        assert kind == "ValueError"
        assert "same pool in the same order" in message and "DistributedSampler" in message


def test_one_process_failing_makes_the_others_raise_instead_of_hanging(ranks):
    (_, zero), (_, one) = ranks
    assert one["failure.error"] == ["RuntimeError", "this process's model fails"]
    kind, message = zero["failure.error"]
    assert kind == "DistributedPassError" and "[1]" in message


def test_drop_last_that_would_drop_images_is_refused(ranks):
    for _, notes in ranks:
        kind, message = notes["drop_last.error"]
        assert kind == "ValueError" and "drop_last=False" in message


# --- single process: the distributed arguments and a sharded loader without a group ----------


def test_a_sharded_loader_without_a_process_group_is_refused():
    from torch.utils.data import DataLoader, DistributedSampler

    loader = DataLoader(
        worker.Pool(), batch_size=4, sampler=DistributedSampler(worker.Pool(), 2, 0)
    )
    with pytest.raises(ValueError, match="1/2 of the pool"):
        predict_pool(worker.model(), loader, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"distributed": True}, "no torch.distributed process group is initialised"),
        ({"dst": 0}, "not distributed"),
        ({"distributed": "yes"}, "True, False or None"),
        ({"distributed": False, "group": object()}, "one or the other"),
    ],
)
def test_distributed_arguments_without_a_process_group(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        predict_pool(worker.model(), worker.list_pool(), progress=False, **kwargs)


def test_the_example_script_under_torchrun_matches_one_process(tmp_path):
    example = ROOT / "examples" / "torch_distributed.py"
    args = ["--images", "21", "--size", "24", "--batch-size", "4", "--knn", "3",
            "--budget", "4", "--cmax", "2", "--train-steps", "1"]  # fmt: skip
    done = torchrun(example, *args, "--out", str(tmp_path))
    assert "4 questions" in done.stdout and done.stdout.count("4 questions") == 1  # rank 0 only
    saved = np.load(tmp_path / "scores.npz")
    # the same model (its weights saved by rank 0) and pool in this one process
    sys.path.insert(0, str(example.parent))
    try:
        import torch_distributed as script
    finally:
        sys.path.remove(str(example.parent))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = script.load_model(tmp_path / "model.pt", classes=6)
        G, R = pool_scores(
            model, script.pool_loader(21, 24, 6, 4), features="encoder", knn=3, progress=False
        )
    finally:
        torch.set_num_threads(threads)
    distributed_R = sp.csr_array(
        (saved["R_data"], saved["R_indices"], saved["R_indptr"]), shape=R.shape
    )
    # Each process runs its shard in batches of 4, 4, 3 (images 0, 2, 4, ... and 1, 3, 5, ...)
    # where one process runs 4, 4, 4, 4, 4, 1: CPU convolution kernels chosen by batch size
    # round float32 differently in the last bit (2.98e-8 on a feature, measured), so the
    # features and R agree to float32 rounding, not bit for bit. The kNN pattern is the same.
    np.testing.assert_array_equal(distributed_R.indices, R.indices)
    np.testing.assert_array_equal(distributed_R.indptr, R.indptr)
    np.testing.assert_allclose(distributed_R.data, R.data, rtol=1e-6, atol=0)
    np.testing.assert_allclose(saved["G"], G, rtol=1e-6, atol=1e-7)

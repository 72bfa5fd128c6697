"""A tiny transformers VitsModel built on the spot: the HF voice for tests and CPU benchmarks.

Shared by tests/integration/test_serving_hf.py and bench/gpu_e2e.py, so both serve the same
model; nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

CHARACTERS = list(" abcdefghijklmnopqrstuvwxyz'.,?!-")


def write_tokenizer(folder: Path) -> int:
    """A character VitsTokenizer saved into `folder`; returns its vocabulary size."""
    from transformers import VitsTokenizer

    vocab = {"<pad>": 0, **{c: i + 1 for i, c in enumerate(CHARACTERS)}}
    vocab["<unk>"] = len(CHARACTERS) + 1
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    VitsTokenizer(str(folder / "vocab.json"), phonemize=False).save_pretrained(folder)
    return len(vocab)


def make_tiny_vits(folder: Path) -> Path:
    """A VitsModel of ~100 kB with a character tokenizer: no download, seconds to build."""
    import torch
    from transformers import VitsConfig, VitsModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer(folder)
    torch.manual_seed(0)
    config = VitsConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=33,
        upsample_initial_channel=16,
        upsample_rates=[8, 8],
        upsample_kernel_sizes=[16, 16],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        duration_predictor_filter_channels=16,
        duration_predictor_num_flows=1,
        prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1,
        depth_separable_num_layers=1,
        sampling_rate=16000,
    )
    VitsModel(config).save_pretrained(folder)
    return folder

"""Training throughput: samples/s of smfa's loop (``smfa.train.fit``) vs a plain HF ``Trainer``.

Same model (a fresh copy of the loaded one each run), same data (the first steps × batch
training samples of the original model, in the same order), same batch size, AdamW at a
constant learning rate, no clipping, no checkpoints, no evaluation; both encode their samples
inside the timed region (each sample once). LoRA on the language model by default (what every
unlearning method trains), ``--full`` for full fine-tuning (the original model). The two
loops run alternately, ``--runs`` times each; medians. Our loop computes the logits of the
answer tokens only (``smfa.models.forward.answer_logits``); the Trainer calls
``model(**batch, labels=...)``, which projects every position onto the vocabulary.

    python benchmarks/train_throughput.py --model runs/demo/original --bench runs/demo/bench

Writes docs/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

from _summary import save


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    args = ap.parse_args()

    import torch
    from transformers import Trainer, TrainingArguments

    from smfa.bench import load
    from smfa.config import LoraSettings, TrainConfig
    from smfa.data import ImageCache, original_samples
    from smfa.models import load as load_model
    from smfa.models.format import collate, encode
    from smfa.progress import set_quiet
    from smfa.train import add_lora, fit, nll_loss_fn

    set_quiet(True)
    torch.set_num_threads(1)
    b = load(args.bench)
    n = args.steps * args.batch_size
    samples = original_samples(b)[:n]
    base, proc = load_model(args.model)
    lora = LoraSettings(r=8, alpha=16, dropout=0.0, target="language")
    cfg = TrainConfig(
        max_steps=args.steps,
        batch_size=args.batch_size,
        lr=1e-4,
        grad_clip=0.0,
        full_finetune=args.full,
        lora=lora,
        schedule="constant",
    )

    def fresh():
        m = copy.deepcopy(base)
        return m if args.full else add_lora(m, lora, 0)

    def ours():
        with tempfile.TemporaryDirectory() as tmp:
            fit(fresh(), proc, {"train": samples}, nll_loss_fn("train"), cfg, tmp)

    class Encoded(torch.utils.data.Dataset):
        """Samples encoded on first use, like smfa's loop (the same work inside the timing)."""

        def __init__(self):
            self.images, self.cache = ImageCache(), {}

        def __len__(self):
            return len(samples)

        def __getitem__(self, i):
            if i not in self.cache:
                s = samples[i]
                self.cache[i] = encode(proc, self.images(s.image), s.question, s.answer)
            return self.cache[i]

    def hf():
        with tempfile.TemporaryDirectory() as tmp:
            targs = TrainingArguments(
                output_dir=str(Path(tmp) / "out"),
                per_device_train_batch_size=args.batch_size,
                max_steps=args.steps,
                learning_rate=1e-4,
                lr_scheduler_type="constant",
                weight_decay=0.0,
                max_grad_norm=0.0,
                logging_strategy="no",
                save_strategy="no",
                report_to=[],
                use_cpu=True,
                dataloader_num_workers=0,
                disable_tqdm=True,
                remove_unused_columns=False,
                seed=0,
            )
            trainer = Trainer(
                model=fresh(),
                args=targs,
                train_dataset=Encoded(),
                data_collator=lambda feats: collate(proc, feats, padding_side="right"),
            )
            trainer.train()

    ours(), hf()  # warm-up
    times = {"ours": [], "hf": []}
    for _ in range(args.runs):
        for name, fn in (("ours", ours), ("hf", hf)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    t_ours, t_hf = (statistics.median(times[k]) for k in ("ours", "hf"))
    what = "full fine-tuning" if args.full else "LoRA r 8 (language model)"
    print(f"{what}: {args.steps} steps × batch {args.batch_size}, runs: {args.runs}")
    print(f"smfa fit:    {n / t_ours:7.1f} samples/s  ({t_ours:.2f} s)")
    print(f"HF Trainer:  {n / t_hf:7.1f} samples/s  ({t_hf:.2f} s)")
    print(f"ratio (ours / Trainer samples/s): {t_hf / t_ours:.2f}")
    save(
        "train_throughput",
        "Training throughput: smfa's loop vs a plain Hugging Face Trainer",
        tables={
            "speed": {
                "headers": ["loop", "samples/s", "median s"],
                "rows": [
                    ["smfa.train.fit", f"{n / t_ours:.1f}", f"{t_ours:.2f}"],
                    ["transformers.Trainer", f"{n / t_hf:.1f}", f"{t_hf:.2f}"],
                ],
            }
        },
        values={
            "what": what,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "runs": args.runs,
            "ours_sps": n / t_ours,
            "hf_sps": n / t_hf,
            "ratio": t_hf / t_ours,
        },
        notes=[
            "Same model, data, batch size and optimizer settings; the two loops run "
            "alternately in one process, medians after one warm-up run each.",
        ],
    )


if __name__ == "__main__":
    main()

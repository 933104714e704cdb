"""Logit lens / Head-Projection (Patil et al., arXiv 2309.17410): the LM head applied to every
layer's residual state. The gold answer of each forget question is fed to the model up to its
key value; at the position that predicts the key's first token, each layer's hidden state goes
through the final norm and the LM head. A fact is *recoverable* when that token is among the
top-``B`` tokens of any layer; the unattacked value is the same test on the model's own output
(the last layer), so recovery = facts visible only inside the network."""

from __future__ import annotations

import torch

from smfa.eval.attacks.base import Attack, Probe, Target
from smfa.registry import ATTACKS

TOP_B = 10


def key_position(labels: torch.Tensor, key_id: int) -> int | None:
    """Index ``t`` of the first answer token (``labels != -100``) equal to ``key_id``: the
    hidden state at ``t − 1`` predicts it. None when the key token is not in the answer."""
    hits = ((labels != -100) & (labels == key_id)).nonzero()
    return int(hits[0, 0]) if len(hits) and int(hits[0, 0]) > 0 else None


def in_top(logits: torch.Tensor, token: int, b: int) -> bool:
    """Whether ``token`` is among the ``b`` highest of ``logits`` ``[V]`` (ties by index)."""
    return token in torch.topk(logits.float(), min(b, logits.shape[-1])).indices.tolist()


def final_norm(net):
    """The decoder's final norm (applied before the LM head), or identity."""
    decoder = net.get_decoder()
    for name in ("norm", "final_layernorm", "ln_f"):
        if hasattr(decoder, name):
            return getattr(decoder, name)
    return torch.nn.Identity()


def first_key_token(tokenizer, answer: str, key: str) -> int | None:
    """The id of the key's first token as it appears in ``answer`` (with the preceding space
    where there is one), or None if the key is not in the answer."""
    at = answer.casefold().find(key.casefold())
    if at < 0:
        return None
    prefix = tokenizer(answer[:at], add_special_tokens=False)["input_ids"]
    both = tokenizer(answer[: at + len(key)], add_special_tokens=False)["input_ids"]
    return both[len(prefix)] if len(both) > len(prefix) else None


@torch.no_grad()
def lens_hits(net, processor, items: list[tuple], keys: list[str], b: int) -> list[tuple]:
    """Per ``(image, question, answer)`` item: ``(any_layer_hit, output_hit)`` or None when the
    key token cannot be located."""
    from smfa.models.format import train_batch

    norm, head = final_norm(net), net.get_output_embeddings()
    out = []
    for (img, q, a), key in zip(items, keys):
        key_id = first_key_token(processor.tokenizer, a, key)
        batch = train_batch(processor, [(img, q, a)])
        batch = {k: v.to(net.device) for k, v in batch.items()}
        labels = batch.pop("labels")[0]
        t = key_position(labels, key_id) if key_id is not None else None
        if t is None:
            out.append(None)
            continue
        res = net(**batch, output_hidden_states=True)
        final = in_top(res.logits[0, t - 1], key_id, b)
        states = res.hidden_states[1:-1]  # the last entry is already normed (it is the output)
        layers = [in_top(head(norm(h[0, t - 1])), key_id, b) for h in states]
        out.append((final or any(layers), final))
    return out


@ATTACKS.register("logit_lens")
class LogitLens(Attack):
    kind = "probe"
    title = "Logit lens (top-B)"

    def measure(self, t: Target) -> Probe:
        b = int(t.options.get("top_b", TOP_B))
        items = [(im, r["question"], r["answer"]) for r, im in zip(t.rows, t.images)]
        keys = [r["keys"][0] for r in t.rows]
        hits = [h for h in lens_hits(t.net, t.processor, items, keys, b) if h is not None]
        if not hits:
            return Probe(None, None, 0, {"top_b": b})
        n = len(hits)
        return Probe(sum(h[1] for h in hits) / n, sum(h[0] for h in hits) / n, n, {"top_b": b})

"""PyTorch peer for bench/train.bench.ts: trains the same TNN language model our library builds and times it.

The model is built from our TnnConfig (JSON, as `tnnConfig('small')` writes it), following src/models/tnn.ts:
  token embedding x sqrt(d) (N(0, d^-1/2)) -> dropout -> blocks -> final LayerNorm -> logits tied to the embedding;
  block (pre-norm): x += drop(GTU(N(x))); x += drop(GLU(N(x)))
  GTU: o = (SiLU(x W_u) * TNO(SiLU(x W_v))) W_o, d -> e = expand*d -> d
  TNO: t[k, c] = lambda^k * RPE(k)[c] for causal lags k = 0..n-1, y = T x by FFT of size 2n
  RPE: Linear(1 -> r), layers x [norm -> act -> Linear(r -> r)], norm -> act -> Linear(r -> e)
  GLU: (SiLU(x W1) * x W2) W3, d -> gluDim -> d
The parameter count is printed and compared with --expect-params (our count): a mismatch exits with status 2,
because then the two sides would not train the same model.

One training step = forward, cross-entropy, backward, gradient clipping at 1.0, AdamW (betas 0.9/0.98,
eps 1e-8, weight decay 0.2 on matrices only), exactly our trainer's step. Uniform random byte tokens (speed
does not depend on the values). Prints one JSON line:
  {"torch", "threads", "parameters", "batch", "seq_len", "warmup", "steps", "step_s": [...], "tokens_per_s"}

Usage: /usr/bin/python3 bench/torch_train_peer.py --config '<TnnConfig JSON>' --expect-params 888192 \
         --batch 8 --seq-len 512 --warmup 2 --steps 5 [--threads 2]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SimpleRMSNorm(nn.Module):
    """x / (||x||_2 * d^-1/2 + 1e-8) over the last axis, no parameters."""

    def forward(self, x):
        return x / (x.norm(dim=-1, keepdim=True) * x.shape[-1] ** -0.5 + 1e-8)


def make_norm(kind, dim):
    if kind == "simple-rms":
        return SimpleRMSNorm()
    if kind == "layer":
        return nn.LayerNorm(dim, eps=1e-5)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm kind '{kind}' (known: simple-rms, layer, none)")


def make_activation(kind):
    acts = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}
    if kind not in acts:
        raise ValueError(f"unknown RPE activation '{kind}' (known: {', '.join(acts)})")
    return acts[kind]()


class Rpe(nn.Module):
    """Relative position encoder: lags [L] -> coefficients [L, channels]."""

    def __init__(self, cfg, channels):
        super().__init__()
        r = cfg["dim"]
        self.input = nn.Linear(1, r)
        self.hidden = nn.ModuleList(
            [nn.Sequential(make_norm(cfg["norm"], r), make_activation(cfg["activation"]), nn.Linear(r, r)) for _ in range(cfg["layers"])]
        )
        self.output = nn.Sequential(make_norm(cfg["norm"], r), make_activation(cfg["activation"]), nn.Linear(r, channels))

    def forward(self, lags):
        h = self.input(lags[:, None])
        for layer in self.hidden:
            h = layer(h)
        return self.output(h)


class Decay(nn.Module):
    """lambda^k on lag k: fixed, none (lambda = 1) or learnable per channel (min + (1 - min) sigmoid(theta))."""

    def __init__(self, cfg, channels):
        super().__init__()
        self.cfg = cfg
        if cfg["kind"] == "learnable":
            p = (cfg["init"] - cfg["min"]) / (1 - cfg["min"])
            self.theta = nn.Parameter(torch.full((channels,), float(torch.logit(torch.tensor(p)))))
        elif cfg["kind"] not in ("fixed", "none"):
            raise ValueError(f"unknown decay kind '{cfg['kind']}' (known: fixed, none, learnable)")

    def forward(self, t, lags):  # t [L, c], lags [L]
        kind = self.cfg["kind"]
        if kind == "none":
            return t
        if kind == "fixed":
            return t * (self.cfg["lambda"] ** lags)[:, None]
        lam = torch.sigmoid(self.theta) * (1 - self.cfg["min"]) + self.cfg["min"]  # [c]
        return t * torch.exp(lags[:, None] * torch.log(lam)[None])


class Gtu(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, e = cfg["dim"], cfg["dim"] * cfg["expand"]
        self.u, self.v, self.o = nn.Linear(d, e), nn.Linear(d, e), nn.Linear(e, d)
        self.rpe = Rpe(cfg["rpe"], e)
        self.decay = Decay(cfg["decay"], e)

    def forward(self, x):  # [b, n, d]
        n = x.shape[1]
        lags = torch.arange(n, dtype=x.dtype)
        t = self.decay(self.rpe(lags), lags)  # [n, e], causal lags 0..n-1
        v = F.silu(self.v(x))
        tv = torch.fft.irfft(torch.fft.rfft(v, 2 * n, dim=1) * torch.fft.rfft(t, 2 * n, dim=0)[None], 2 * n, dim=1)[:, :n]
        return self.o(F.silu(self.u(x)) * tv)


class Glu(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(d, hidden), nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        return self.l3(F.silu(self.l1(x)) * self.l2(x))


class TnnBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.token_norm, self.channel_norm = make_norm(cfg["norm"], cfg["dim"]), make_norm(cfg["norm"], cfg["dim"])
        self.gtu, self.glu = Gtu(cfg), Glu(cfg["dim"], cfg["gluDim"])

    def forward(self, x):
        p, training = self.cfg["dropout"], self.training
        if self.cfg["prenorm"]:
            x = x + F.dropout(self.gtu(self.token_norm(x)), p, training)
            return x + F.dropout(self.glu(self.channel_norm(x)), p, training)
        x = self.token_norm(x + F.dropout(self.gtu(x), p, training))
        return self.channel_norm(x + F.dropout(self.glu(x), p, training))


class TnnLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d = cfg["dim"]
        self.embed = nn.Embedding(cfg["vocabSize"], d)
        nn.init.normal_(self.embed.weight, 0.0, d ** -0.5)
        self.blocks = nn.ModuleList([TnnBlock(cfg) for _ in range(cfg["layers"])])
        self.final_norm = nn.LayerNorm(d, eps=1e-5)
        self.lm_head = None if cfg["tiedEmbedding"] else nn.Linear(d, cfg["vocabSize"], bias=False)

    def forward(self, ids):  # [b, n] -> logits [b, n, V]
        h = F.dropout(self.embed(ids) * self.cfg["dim"] ** 0.5, self.cfg["dropout"], self.training)
        for block in self.blocks:
            h = block(h)
        h = self.final_norm(h)
        return h @ self.embed.weight.t() if self.lm_head is None else self.lm_head(h)


def adamw(model, lr):
    """Our AdamW: decoupled weight decay 0.2 on tensors of rank >= 2 only (embedding included)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-8)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="our TnnConfig as JSON")
    p.add_argument("--expect-params", type=int, required=True, help="our parameter count; a mismatch exits with status 2")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    a = p.parse_args()
    if a.steps < 1:
        p.error(f"--steps must be at least 1, got {a.steps}")
    cfg = json.loads(a.config)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = TnnLM(cfg)
    params = sum(t.numel() for t in model.parameters())
    if params != a.expect_params:
        print(f"torch_train_peer: the PyTorch model has {params} parameters, ours {a.expect_params}: not the same model.", file=sys.stderr)
        sys.exit(2)
    model.train()
    opt = adamw(model, a.lr)
    step_s = []
    for step in range(a.warmup + a.steps):
        ids = torch.randint(0, cfg["vocabSize"], (a.batch, a.seq_len + 1))
        t0 = time.perf_counter()
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg["vocabSize"]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        if step >= a.warmup:
            step_s.append(time.perf_counter() - t0)
    tokens = a.batch * a.seq_len * len(step_s)
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "parameters": params, "batch": a.batch,
        "seq_len": a.seq_len, "warmup": a.warmup, "steps": a.steps, "step_s": step_s, "tokens_per_s": tokens / sum(step_s),
    }), flush=True)


if __name__ == "__main__":
    main()

"""The reference TNN layer stack in PyTorch, under tnn-pytorch's parameter names, for files toeplitz-lab exports.

Written from the paper's formulas (Qin et al. 2023, "Toeplitz Neural Network for Sequence Modeling"), with the
module and parameter names of Doraemonzzz/tnn-pytorch (TnnLayer, Gtu, Tno, Rpe, GLU) so that a file written by
`npm run cli -- export --format tnn-pytorch` loads with load_state_dict(strict=True). The reference has no
language model; the wrapper here is toeplitz-lab's: token embedding x sqrt(d), the layers, a final LayerNorm
(eps 1e-5), logits tied to the embedding (or an untied lm_head); the encoder mean-pools into `head`.
  Rpe:      pos_proj Linear(1 -> r); layers[l] = Sequential(norm, act, Linear(r -> r)); out = Sequential(norm, act, Linear(r -> e))
  Tno:      t[k] = gamma^|k| * rpe(k) for integer lags k (lag 0 undecayed), y = T x by FFT of size 2n;
            gamma fixed (use_decay) or lambda0 + (1 - lambda0) sigmoid(gamma) (use_multi_decay), stored [1, 1, e]
  Gtu:      o(SiLU(u_proj x) * toep(SiLU(v_proj x)))
  GLU:      l3(SiLU(l1 x) * l2 x)
  TnnLayer: pre-norm x + f(N(x)); post-norm x + N(f(x)); token_mixer (Gtu), token_norm, feature_norm, feature_mixer (GLU)

Usage (Debian's python3-torch; the `safetensors` package is used where installed, else a reader written here):
  /usr/bin/python3 interop/tnn_reference.py logits MODEL.safetensors... (--ids 1,2,3 | --prompt TEXT) [--double]
      prints, one JSON line per file, {"file", "shape": [1, n, V] (or [1, classes]), "logits": [...], "reader", "torch"}
  /usr/bin/python3 interop/tnn_reference.py fairseq-to-safetensors CHECKPOINT.pt OUT.safetensors
      a fairseq-evo checkpoint's state dict (float32) and the layer arguments it was trained with, for
      `npm run cli -- import --format fairseq-evo`
As a module (e.g. to train on GPUs and bring the weights back):
  from tnn_reference import load_model, save_model
  model = load_model("model.tnn-pytorch.safetensors").cuda().train()   # ... train ...
  save_model(model, "trained.tnn-pytorch.safetensors")                # npm run cli -- import --weights trained...
"""
import argparse
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- safetensors, by hand: 8-byte little-endian header length, JSON header, raw little-endian row-major data ----

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """(tensors by name, metadata): with the safetensors package where installed, else by hand."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__", {}) or {}
    try:
        from safetensors.torch import load_file

        return load_file(path), metadata, "safetensors"
    except ImportError:
        pass
    body = memoryview(raw)[8 + n :]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        chunk = bytearray(body[begin:end])  # a copy: torch.frombuffer wants a writable buffer
        t = torch.frombuffer(chunk, dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, metadata, "builtin"


def write_safetensors(path, tensors, metadata):
    """Tensors sorted by name, contiguous, header padded with spaces to 8 bytes (as the reference writer does)."""
    names = sorted(tensors)
    header, offset, blobs = {"__metadata__": metadata} if metadata else {}, 0, []
    codes = {v: k for k, v in DTYPES.items()}
    for name in names:
        t = tensors[name].detach().contiguous().cpu()
        blob = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# ---- the layers ----


class SimpleRMSNorm(nn.Module):
    """x / (||x||_2 d^-1/2 + 1e-8) over the last axis, no parameters."""

    def forward(self, x):
        return x / (x.norm(dim=-1, keepdim=True) * x.shape[-1] ** -0.5 + 1e-8)


def make_norm(norm_type, dim):
    if norm_type == "simplermsnorm":
        return SimpleRMSNorm()
    if norm_type == "layernorm":
        return nn.LayerNorm(dim, eps=1e-5)
    raise ValueError(f"norm_type '{norm_type}' is not built here (simplermsnorm, layernorm)")


def make_act(name):
    acts = {"relu": nn.ReLU, "silu": nn.SiLU}
    if name not in acts:
        raise ValueError(f"rpe_act '{name}' is not built here (relu, silu)")
    return acts[name]()


class Rpe(nn.Module):
    """Relative position encoder: integer lags [L] -> coefficients [L, outdim]."""

    def __init__(self, dim, outdim, layers, norm_type, act):
        super().__init__()
        self.pos_proj = nn.Linear(1, dim)
        self.layers = nn.ModuleList([nn.Sequential(make_norm(norm_type, dim), make_act(act), nn.Linear(dim, dim)) for _ in range(layers)])
        self.out = nn.Sequential(make_norm(norm_type, dim), make_act(act), nn.Linear(dim, outdim))

    def forward(self, lags):
        h = self.pos_proj(lags[:, None])
        for layer in self.layers:
            h = layer(h)
        return self.out(h)


class Tno(nn.Module):
    """Toeplitz neural operator over e channels, one head: y[i] = sum_j t[i - j] x[j], t from the RPE, decayed."""

    def __init__(self, dim, rpe_dim, causal, use_decay, use_multi_decay, gamma, layers, norm_type, act):
        super().__init__()
        self.causal, self.use_decay, self.use_multi_decay = causal, use_decay, use_multi_decay
        if use_decay:  # a fixed lambda, kept as a non-trainable parameter
            self.gamma = nn.Parameter(torch.full((1, 1, dim), float(gamma)), requires_grad=False)
        if use_multi_decay:  # lambda = lambda0 + (1 - lambda0) sigmoid(gamma), per channel
            self.lambda0 = gamma
            self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.rpe = Rpe(rpe_dim, dim, layers, norm_type, act)

    def decay(self):
        if self.use_decay:
            return self.gamma[0, 0]
        if self.use_multi_decay:
            return self.lambda0 + (1 - self.lambda0) * torch.sigmoid(self.gamma[0, 0])
        return None

    def forward(self, x):  # [b, n, e] -> [b, n, e]
        n = x.shape[1]
        lags = torch.arange(n, dtype=x.dtype, device=x.device)  # 0 .. n-1
        pos = self.rpe(lags)  # [n, e]
        lam = self.decay()
        if lam is not None:
            pos = pos * lam[None, :] ** lags[:, None]  # lag 0: lambda^0 = 1
        zeros = lambda rows: torch.zeros(rows, x.shape[2], dtype=x.dtype, device=x.device)
        if self.causal:
            a = torch.cat([pos, zeros(n)])  # [2n, e]: lag n (never reaches y[:n]) and no negative lags
        else:
            neg_lags = -torch.arange(n - 1, 0, -1, dtype=x.dtype, device=x.device)  # -(n-1) .. -1
            neg = self.rpe(neg_lags) if n > 1 else zeros(0)
            if lam is not None and n > 1:
                neg = neg * lam[None, :] ** (-neg_lags)[:, None]
            a = torch.cat([pos, zeros(1), neg])  # [2n, e]: the circulant's first column, lag +-n zero
        y = torch.fft.irfft(torch.fft.rfft(x, 2 * n, dim=1) * torch.fft.rfft(a, 2 * n, dim=0)[None], 2 * n, dim=1)
        return y[:, :n]


class Gtu(nn.Module):
    def __init__(self, embed_dim, expand_ratio, causal, use_decay, use_multi_decay, gamma, rpe_embedding, rpe_layers, norm_type, rpe_act):
        super().__init__()
        e = int(expand_ratio * embed_dim)
        self.u_proj, self.v_proj, self.o = nn.Linear(embed_dim, e), nn.Linear(embed_dim, e), nn.Linear(e, embed_dim)
        self.toep = Tno(e, rpe_embedding, causal, use_decay, use_multi_decay, gamma, rpe_layers, norm_type, rpe_act)

    def forward(self, x):
        return self.o(F.silu(self.u_proj(x)) * self.toep(F.silu(self.v_proj(x))))


class GLU(nn.Module):
    def __init__(self, d1, d2):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(d1, d2), nn.Linear(d1, d2), nn.Linear(d2, d1)

    def forward(self, x):
        return self.l3(F.silu(self.l1(x)) * self.l2(x))


class TnnLayer(nn.Module):
    """TnnLayer's arguments (plus Gtu's use_multi_decay); the activations are SiLU as in the paper."""

    def __init__(self, dim, num_heads, rpe_embedding, glu_dim, prenorm=True, norm_type="simplermsnorm", causal=False,
                 gtu_act="silu", expand_ratio=3, use_decay=False, use_multi_decay=False, gamma=0.999, rpe_act="relu",
                 rpe_layers=3, glu_act="silu"):
        super().__init__()
        if num_heads != 1 or gtu_act != "silu" or glu_act != "silu":
            raise ValueError("built here: one head, SiLU in the GTU and the GLU")
        self.prenorm = prenorm
        self.token_mixer = Gtu(dim, expand_ratio, causal, use_decay, use_multi_decay, gamma, rpe_embedding, rpe_layers, norm_type, rpe_act)
        self.token_norm = make_norm(norm_type, dim)
        self.feature_norm = make_norm(norm_type, dim)
        self.feature_mixer = GLU(dim, glu_dim)

    def forward(self, x):
        if self.prenorm:
            x = x + self.token_mixer(self.token_norm(x))
            return x + self.feature_mixer(self.feature_norm(x))
        x = x + self.token_norm(self.token_mixer(x))
        return x + self.feature_norm(self.feature_mixer(x))


class TnnModel(nn.Module):
    """toeplitz-lab's wrapper (the reference has none): embed x sqrt(d) -> layers -> final_norm -> tied logits, or mean-pooled head."""

    def __init__(self, layer_args, wrapper):
        super().__init__()
        d = layer_args["dim"]
        self.kind, self.scale = wrapper["kind"], wrapper["embed_scale"]
        self.embed = nn.Embedding(wrapper["vocab_size"], d)
        self.layers = nn.ModuleList([TnnLayer(**layer_args) for _ in range(wrapper["layers"])])
        self.final_norm = nn.LayerNorm(d, eps=wrapper["final_norm"]["eps"])
        if self.kind == "encoder":
            self.head = nn.Linear(d, wrapper["num_classes"])
        elif not wrapper["tied"]:
            self.lm_head = nn.Linear(d, wrapper["vocab_size"], bias=False)

    def forward(self, ids):  # [b, n] -> [b, n, V] (LM) or [b, classes] (encoder)
        h = self.embed(ids) * self.scale
        for layer in self.layers:
            h = layer(h)
        h = self.final_norm(h)
        if self.kind == "encoder":
            return self.head(h.mean(1))
        return self.lm_head(h) if hasattr(self, "lm_head") else h @ self.embed.weight.t()


def load_model(path):
    """The model a file of `npm run cli -- export` holds, loaded strictly, in eval mode; `model.metadata` keeps the
    file's metadata (what `save_model` writes back, so that `npm run cli -- import` rebuilds the same model)."""
    tensors, metadata, reader = read_safetensors(path)
    if metadata.get("format") != "tnn-pytorch":
        raise SystemExit(f"{path}: no 'format': 'tnn-pytorch' in its metadata (write it with `npm run cli -- export`)")
    model = TnnModel(json.loads(metadata["tnn_layer"]), json.loads(metadata["lm_wrapper"]))
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    model.metadata, model.reader = metadata, reader
    return model.eval()


def save_model(model, path):
    """The model's state dict (float32) and the metadata it was loaded with, for `npm run cli -- import`."""
    write_safetensors(path, {k: v.float() for k, v in model.state_dict().items()}, model.metadata)


def logits_main(a):
    ids = [int(i) for i in a.ids.split(",")] if a.ids is not None else list(a.prompt.encode("utf-8"))
    for file in a.files:
        model = load_model(file)
        model, reader = (model.double() if a.double else model), model.reader
        with torch.no_grad():
            out = model(torch.tensor([ids], dtype=torch.long))
        print(json.dumps({"file": file, "torch": torch.__version__, "reader": reader, "dtype": str(out.dtype), "ids": ids,
                          "shape": list(out.shape), "logits": out.flatten().tolist()}), flush=True)


# fairseq arguments that decide the architecture; the importer checks them against what it can build.
FAIRSEQ_ARGS = ["decoder_attention_heads", "decoder_embed_dim", "decoder_layers", "act_fun", "glu_act", "glu_dim", "causal",
                "expand_ratio", "use_norm", "resi_param", "norm_type", "use_decay", "use_multi_decay", "gamma", "rpe_embedding",
                "rpe_layers", "rpe_act", "residual", "par_type", "act_type", "normalize", "no_scale_embedding", "layernorm_embedding",
                "decoder_normalize_before", "no_decoder_final_norm", "share_decoder_input_output_embed", "adaptive_input", "dropout"]


def fairseq_main(a):
    checkpoint = torch.load(a.checkpoint, map_location="cpu")
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    args = checkpoint.get("args") if isinstance(checkpoint, dict) else None
    if args is None and isinstance(checkpoint, dict) and checkpoint.get("cfg") is not None:
        args = checkpoint["cfg"].get("model") if hasattr(checkpoint["cfg"], "get") else None
    stated = {}
    for key in FAIRSEQ_ARGS:
        value = getattr(args, key, None) if args is not None and not isinstance(args, dict) else (args or {}).get(key)
        if value is not None:
            stated[key] = value
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items() if torch.is_tensor(v)}
    metadata = {"format": "fairseq-evo", "source": a.checkpoint}
    if stated:
        metadata["fairseq_args"] = json.dumps(stated)
    write_safetensors(a.out, tensors, metadata)
    print(json.dumps({"tensors": len(tensors), "args": stated, "out": a.out}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    lg = sub.add_parser("logits", help="logits of exported models for a prompt, one JSON line each")
    lg.add_argument("files", nargs="+", metavar="file")
    group = lg.add_mutually_exclusive_group(required=True)
    group.add_argument("--ids", help="comma-separated token ids")
    group.add_argument("--prompt", help="text, as UTF-8 bytes (toeplitz-lab's byte tokenizer)")
    lg.add_argument("--double", action="store_true", help="compute in float64 (the weights are float32)")
    fs = sub.add_parser("fairseq-to-safetensors", help="a fairseq-evo checkpoint's state dict as safetensors")
    fs.add_argument("checkpoint")
    fs.add_argument("out")
    a = p.parse_args()
    torch.set_num_threads(1)
    logits_main(a) if a.command == "logits" else fairseq_main(a)


if __name__ == "__main__":
    sys.exit(main())

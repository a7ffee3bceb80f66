"""Times the PyTorch peer's TNN layer (its `layer_s` column: pre-norm GTU expand 3 + GLU, d model width) for
bench/layer.bench.ts, using TnnLayer and timed() from ../shared/peers/torch_tnn_peer.py unchanged.
Prints one JSON line per length.
Usage: /usr/bin/python3 bench/torch_layer.py PEER_DIR --lens 512,1024 --d 512 --reps 2
"""
import argparse, json, sys

p = argparse.ArgumentParser()
p.add_argument("peer_dir")
p.add_argument("--lens", default="512,1024,2048,4096,8192,16384")
p.add_argument("--d", type=int, default=512)
p.add_argument("--reps", type=int, default=2)
a = p.parse_args()
sys.path.insert(0, a.peer_dir)
import torch  # noqa: E402
from torch_tnn_peer import TnnLayer, timed  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(2)
layer = TnnLayer(a.d)
timed(layer, torch.randn(1, 64, a.d), 1)  # warm-up
for n in map(int, a.lens.split(",")):
    s = timed(layer, torch.randn(1, n, a.d), a.reps)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "n": n, "d": a.d, "layer_s": s}), flush=True)

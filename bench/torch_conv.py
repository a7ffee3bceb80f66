"""Times the PyTorch peer's FFT Toeplitz product (forward + backward) alone, for bench/toeplitz.bench.ts.

Uses `toeplitz_conv`/`timed_conv` from ../shared/peers/torch_tnn_peer.py unchanged (its `conv_s` column), without
the peer's slower layer and attention columns. Prints one JSON line per length.
Usage: /usr/bin/python3 bench/torch_conv.py PEER_DIR --lens 512,1024 --channels 1536 --reps 3
"""
import argparse, json, sys

p = argparse.ArgumentParser()
p.add_argument("peer_dir")
p.add_argument("--lens", default="512,1024,2048,4096,8192,16384")
p.add_argument("--channels", type=int, default=1536)
p.add_argument("--reps", type=int, default=3)
a = p.parse_args()
sys.path.insert(0, a.peer_dir)
import torch  # noqa: E402
from torch_tnn_peer import timed_conv  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(2)
timed_conv(torch.randn(1, 64, a.channels), torch.randn(64, a.channels), 1)  # warm-up
for n in map(int, a.lens.split(",")):
    s = timed_conv(torch.randn(1, n, a.channels), torch.randn(n, a.channels), a.reps)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "n": n, "conv_s": s}), flush=True)

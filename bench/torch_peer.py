"""Times the PyTorch peer (../shared/peers/torch_tnn_peer.py, used unchanged) for the benchmarks in bench/:
  --what conv   its FFT Toeplitz product alone over C channels (the peer's conv_s column)
  --what layer  its TNN layer: pre-norm GTU (expand 3) + GLU, width d (the peer's layer_s column)
without the peer's other, slower columns. Prints one JSON line per length: {"n", "seconds", ...}.
Usage: /usr/bin/python3 bench/torch_peer.py PEER_DIR --what conv --lens 512,1024 --width 1536 --reps 3 --threads 1
"""
import argparse, json, sys

p = argparse.ArgumentParser()
p.add_argument("peer_dir")
p.add_argument("--what", choices=["conv", "layer"], required=True)
p.add_argument("--lens", default="512,1024,2048,4096,8192,16384")
p.add_argument("--width", type=int, required=True, help="channels C (conv) or model width d (layer)")
p.add_argument("--reps", type=int, default=3)
p.add_argument("--threads", type=int, default=2, help="torch threads (on a 2-core VM, 1 is often faster)")
a = p.parse_args()
sys.path.insert(0, a.peer_dir)
import torch  # noqa: E402
from torch_tnn_peer import TnnLayer, timed, timed_conv  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(a.threads)
if a.what == "conv":
    run = lambda n, reps: timed_conv(torch.randn(1, n, a.width), torch.randn(n, a.width), reps)
else:
    layer = TnnLayer(a.width)
    run = lambda n, reps: timed(layer, torch.randn(1, n, a.width), reps)
run(64, 1)  # warm-up
for n in map(int, a.lens.split(",")):
    row = {"torch": torch.__version__, "threads": torch.get_num_threads(), "what": a.what, "n": n, "width": a.width, "seconds": run(n, a.reps)}
    print(json.dumps(row), flush=True)

{
  "targets": [
    {
      "target_name": "toeplitz_native",
      "sources": ["addon.cc", "gemm.cc", "toeplitz.cc", "pointwise.cc", "norm.cc", "ssm.cc"],
      "cflags_cc": ["-O3", "-funroll-loops", "-std=c++17"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}

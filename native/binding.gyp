{
  "targets": [
    {
      "target_name": "toeplitz_native",
      "sources": ["gemm.cc"],
      "cflags_cc": ["-O3", "-funroll-loops", "-std=c++17"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}

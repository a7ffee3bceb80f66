/*
 * The toeplitz_native addon: the matrix product (gemm.cc), the Toeplitz product (toeplitz.cc), the pointwise
 * kernels (pointwise.cc: SiLU gates, softmax NLL, attention's softmax, AdamW, dropout), the norms (norm.cc:
 * SimpleRMSNorm, RMSNorm, LayerNorm) and ETSC's decoding step (ssm.cc), all on AVX2 + FMA. `available` says
 * whether this CPU has them; the JS side never calls a kernel otherwise.
 */
#include "common.h"

NAPI_MODULE_INIT() {
  __builtin_cpu_init();
  const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  native::registerGemm(env, exports);
  native::registerToeplitz(env, exports);
  native::registerPointwise(env, exports);
  native::registerNorm(env, exports);
  native::registerSsm(env, exports);
  napi_value flag;
  napi_get_boolean(env, available, &flag);
  napi_set_named_property(env, exports, "available", flag);
  return exports;
}

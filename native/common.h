/*
 * What the native kernels share: the second core (a helper thread per calling thread), the calling thread's
 * thread count, the split of a range between the two, and the N-API argument helpers. The module is
 * context-aware (NAPI_MODULE_INIT in addon.cc), so worker threads load it too; everything per thread is
 * thread_local.
 */
#pragma once

#include <node_api.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace native {

/*
 * A helper thread (created on first use, joined when the calling thread exits) that runs one task while the
 * caller runs another: `start(task)`, the caller's own share, then `wait()`. A hand-off costs ~10–50 µs, so
 * callers split only work of a few milliseconds or more.
 */
class Helper {
 public:
  Helper() : thread_([this] { loop(); }) {}
  ~Helper() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void start(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = std::move(task);
      busy_ = true;
    }
    wake_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return !busy_; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return quit_ || task_ != nullptr; });
      if (quit_) return;
      std::function<void()> task = std::move(task_);
      task_ = nullptr;
      lock.unlock();
      task();
      lock.lock();
      busy_ = false;
      done_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::function<void()> task_;
  bool busy_ = false, quit_ = false;
  std::thread thread_;
};

/* Threads for the calling thread's kernels: 1, or 2 (the caller and its helper); set from JS (setThreads). */
inline thread_local int threads = 1;
inline thread_local std::unique_ptr<Helper> helper;

/* Runs `mine` here and `theirs` on the helper at the same time, and returns when both are done. */
inline void runOnTwo(const std::function<void()>& mine, std::function<void()> theirs) {
  if (!helper) helper = std::make_unique<Helper>();
  helper->start(std::move(theirs));
  mine();
  helper->wait();
}

/* Runs work(i0, i1) over [0, count), split at a multiple of `unit` on two threads when asked and worth it. */
template <typename Work>
void overRange(size_t count, size_t unit, size_t worthIt, Work work) {
  if (threads < 2 || count < worthIt) {
    work(0, count);
    return;
  }
  const size_t half = count / 2 / unit * unit;
  runOnTwo([&] { work(0, half); }, [&] { work(half, count); });
}

/* The callback's arguments into argv[0..count); false unless it was called with exactly `count`. */
inline bool arguments(napi_env env, napi_callback_info info, size_t count, napi_value* argv) {
  size_t argc = count;
  return napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == count;
}

/* The typed array `v` of element type `want` as a pointer and length; false if it is not one. */
template <typename T>
inline bool typedArray(napi_env env, napi_value v, napi_typedarray_type want, T** data, size_t* length) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* ptr;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, nullptr, nullptr) != napi_ok || type != want) return false;
  *data = static_cast<T*>(ptr);
  return true;
}

/* The Float32Array `v` as a pointer and length; false if it is not one. */
inline bool floats(napi_env env, napi_value v, float** data, size_t* length) { return typedArray(env, v, napi_float32_array, data, length); }

/* The Int32Array `v` as a pointer and length; false if it is not one. */
inline bool int32s(napi_env env, napi_value v, int32_t** data, size_t* length) { return typedArray(env, v, napi_int32_array, data, length); }

/* The Float32Array `v`, or null (nullptr, length 0); false if it is neither. */
inline bool optionalFloats(napi_env env, napi_value v, float** data, size_t* length) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) return false;
  if (type == napi_null) {
    *data = nullptr, *length = 0;
    return true;
  }
  return floats(env, v, data, length);
}

/* argv[0..count) as Float32Arrays into data[i], lengths[i]; false if one is not. */
inline bool floatArrays(napi_env env, const napi_value* argv, int count, float** data, size_t* lengths) {
  for (int i = 0; i < count; i++) {
    if (!floats(env, argv[i], &data[i], &lengths[i])) return false;
  }
  return true;
}

/* Throws a TypeError with `message` and returns the value a failed callback returns. */
inline napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

/* Integer arguments argv[first..first+count) into out; false if one is not a number. */
inline bool integers(napi_env env, const napi_value* argv, int first, int count, int64_t* out) {
  for (int i = 0; i < count; i++) {
    if (napi_get_value_int64(env, argv[first + i], &out[i]) != napi_ok) return false;
  }
  return true;
}

/* Sets exports[name] to a function calling `callback`, for each (name, callback). */
template <size_t N>
inline void exportFunctions(napi_env env, napi_value exports, const std::pair<const char*, napi_callback> (&functions)[N]) {
  for (const auto& [name, callback] : functions) {
    napi_value fn;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn);
    napi_set_named_property(env, exports, name, fn);
  }
}

void registerGemm(napi_env env, napi_value exports);
void registerToeplitz(napi_env env, napi_value exports);
void registerPointwise(napi_env env, napi_value exports);
void registerNorm(napi_env env, napi_value exports);
void registerSsm(napi_env env, napi_value exports);

}  // namespace native

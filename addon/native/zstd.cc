// zstd decompression of layer blobs (RFC 8878) through libzstd's streaming API, one bounded step per call
// on libuv's thread pool — what Node's zlib does for gzip — so a layer inflates on another core while the
// JavaScript thread writes its files.
//
// JavaScript drives the loop (src/image/decompress.ts): each step gets input and an output buffer of
// fixed size, and reports how much of each it used. The output of a step never exceeds its buffer, so
// a zstd bomb is inflated no faster than it is read. The decoder's window is capped by libzstd's default
// limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 128 MiB): a frame asking for more fails instead of allocating it.
#include <napi.h>
#include <zstd.h>

#include <cstdint>

namespace {

class Decoder : public Napi::ObjectWrap<Decoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ZstdDecoder", {InstanceMethod("step", &Decoder::Step), InstanceMethod("close", &Decoder::Close)});
  }

  explicit Decoder(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Decoder>(info), ctx_(ZSTD_createDCtx()) {
    if (!ctx_) Napi::Error::New(info.Env(), "ZSTD_createDCtx failed: out of memory").ThrowAsJavaScriptException();
  }

  ~Decoder() override { Free(); }

  ZSTD_DCtx *ctx() const { return ctx_; }
  void SetBusy(bool b) { busy_ = b; }

 private:
  void Free() {
    if (ctx_) ZSTD_freeDCtx(ctx_);
    ctx_ = nullptr;
  }

  // step(input, inOffset, inLength, output, outOffset, outLength, callback(err, consumed, produced, hint)):
  // one ZSTD_decompressStream(3) call on the thread pool. HINT is its return value: 0 when a frame
  // was just completed and flushed, else a suggested size for the next input.
  Napi::Value Step(const Napi::CallbackInfo &info);

  // close(): frees the decoder now rather than at garbage collection (not while a step runs).
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (busy_) {
      Napi::Error::New(info.Env(), "ZstdDecoder.close: a step is still running").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    Free();
    return info.Env().Undefined();
  }

  ZSTD_DCtx *ctx_;
  bool busy_ = false;
};

class StepWork : public Napi::AsyncWorker {
 public:
  StepWork(Napi::Function cb, Decoder *dec, Napi::Object self, Napi::Object in, const uint8_t *src, size_t srcLen, Napi::Object out,
           uint8_t *dst, size_t dstLen)
      : Napi::AsyncWorker(cb, "lodger:zstd"), dec_(dec), src_(src), srcLen_(srcLen), dst_(dst), dstLen_(dstLen) {
    // The decoder and both buffers stay alive (and in place) until the step is over.
    self_ = Napi::Persistent(self);
    in_ = Napi::Persistent(in);
    out_ = Napi::Persistent(out);
  }

  void Execute() override {
    ZSTD_inBuffer ib = {src_, srcLen_, 0};
    ZSTD_outBuffer ob = {dst_, dstLen_, 0};
    size_t r = ZSTD_decompressStream(dec_->ctx(), &ob, &ib);
    if (ZSTD_isError(r)) {
      SetError(ZSTD_getErrorName(r));
      return;
    }
    consumed_ = ib.pos;
    produced_ = ob.pos;
    hint_ = r;
  }

  void OnOK() override {
    dec_->SetBusy(false);
    Napi::Env env = Env();
    Callback().Call({env.Null(), Napi::Number::New(env, static_cast<double>(consumed_)), Napi::Number::New(env, static_cast<double>(produced_)),
                     Napi::Number::New(env, static_cast<double>(hint_))});
  }

  void OnError(const Napi::Error &e) override {
    dec_->SetBusy(false);
    Callback().Call({e.Value()});
  }

 private:
  Decoder *dec_;
  Napi::ObjectReference self_, in_, out_;
  const uint8_t *src_;
  size_t srcLen_;
  uint8_t *dst_;
  size_t dstLen_;
  size_t consumed_ = 0, produced_ = 0, hint_ = 0;
};

// A Buffer (or any Uint8Array) argument and an offset/length window into it, checked.
bool Window(const Napi::CallbackInfo &info, size_t at, uint8_t **data, size_t *len) {
  if (!info[at].IsTypedArray() || !info[at + 1].IsNumber() || !info[at + 2].IsNumber()) return false;
  Napi::Uint8Array a = info[at].As<Napi::Uint8Array>();
  int64_t off = info[at + 1].As<Napi::Number>().Int64Value();
  int64_t n = info[at + 2].As<Napi::Number>().Int64Value();
  if (off < 0 || n < 0 || static_cast<uint64_t>(off) + static_cast<uint64_t>(n) > a.ByteLength()) return false;
  *data = a.Data() + off;
  *len = static_cast<size_t>(n);
  return true;
}

Napi::Value Decoder::Step(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *src, *dst;
  size_t srcLen, dstLen;
  if (info.Length() < 7 || !Window(info, 0, &src, &srcLen) || !Window(info, 3, &dst, &dstLen) || !info[6].IsFunction()) {
    Napi::TypeError::New(env, "Usage: step(input, inOffset, inLength, output, outOffset, outLength, callback) with windows inside the buffers")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!ctx_ || busy_) {
    Napi::Error::New(env, ctx_ ? "ZstdDecoder.step: the previous step is still running" : "ZstdDecoder.step: the decoder is closed")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  busy_ = true;
  auto *w = new StepWork(info[6].As<Napi::Function>(), this, info.This().As<Napi::Object>(), info[0].As<Napi::Object>(), src, srcLen,
                         info[3].As<Napi::Object>(), dst, dstLen);
  w->Queue();
  return env.Undefined();
}

}  // namespace

// Called from native.cc's Init: adds ZstdDecoder to the addon's exports.
void RegisterZstd(Napi::Env env, Napi::Object exports) { exports.Set("ZstdDecoder", Decoder::Define(env)); }

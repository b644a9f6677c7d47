// LayerDecoder: a layer blob's decompression (gzip, zstd or none) and the SHA-256 of what comes out of it
// (its diff_id), one bounded step per call on libuv's thread pool — so a layer inflates and is hashed on
// another core while the JavaScript thread writes its files.
//
// JavaScript drives the loop (src/image/decompress.ts): each step gets input and an output buffer of
// fixed size, and reports how much of each it used. The output of a step never exceeds its buffer, so
// a bomb is inflated no faster than it is read. gzip is Node's own zlib (the headers and symbols Node
// exports to addons); zstd is libzstd, its window capped by libzstd's default limit
// (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 128 MiB): a frame asking for more fails instead of allocating it.
// The hash is OpenSSL's, also Node's own (node-addon docs, "Linking to libraries included with Node.js").
#include <napi.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace {

enum class Format { Gzip, Zstd, None };

class Decoder : public Napi::ObjectWrap<Decoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LayerDecoder",
                       {InstanceMethod("step", &Decoder::Step), InstanceMethod("digest", &Decoder::Digest), InstanceMethod("close", &Decoder::Close)});
  }

  // new LayerDecoder('gzip' | 'zstd' | 'none')
  explicit Decoder(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Decoder>(info) {
    Napi::Env env = info.Env();
    std::string f = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (f == "gzip") format_ = Format::Gzip;
    else if (f == "zstd") format_ = Format::Zstd;
    else if (f == "none") format_ = Format::None;
    else {
      Napi::TypeError::New(env, "Usage: new LayerDecoder('gzip' | 'zstd' | 'none')").ThrowAsJavaScriptException();
      return;
    }
    md_ = EVP_MD_CTX_new();
    if (!md_ || EVP_DigestInit_ex(md_, EVP_sha256(), nullptr) != 1) {
      Napi::Error::New(env, "LayerDecoder: SHA-256 could not be set up").ThrowAsJavaScriptException();
      return;
    }
    if (format_ == Format::Zstd) {
      zstd_ = ZSTD_createDCtx();
      if (!zstd_) Napi::Error::New(env, "ZSTD_createDCtx failed: out of memory").ThrowAsJavaScriptException();
    } else if (format_ == Format::Gzip) {
      std::memset(&z_, 0, sizeof z_);
      // 16 + MAX_WBITS: a gzip wrapper only (zlib.h, inflateInit2) — a zlib or raw stream is an error.
      if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {
        Napi::Error::New(env, "inflateInit2 failed: out of memory").ThrowAsJavaScriptException();
        return;
      }
      zOpen_ = true;
    }
  }

  ~Decoder() override { Free(); }

  void SetBusy(bool b) { busy_ = b; }

  // One bounded step: decode from SRC into DST and hash what was produced. Returns an error message or
  // nullptr. HINT is 0 at a boundary where the input may end (after a complete gzip member or zstd
  // frame, or always for plain tar), else nonzero.
  const char *Run(const uint8_t *src, size_t srcLen, uint8_t *dst, size_t dstLen, size_t *consumed, size_t *produced, size_t *hint) {
    *consumed = *produced = 0;
    *hint = 1;
    switch (format_) {
      case Format::None: {
        size_t n = srcLen < dstLen ? srcLen : dstLen;
        std::memcpy(dst, src, n);
        *consumed = *produced = n;
        *hint = 0;
        break;
      }
      case Format::Zstd: {
        ZSTD_inBuffer ib = {src, srcLen, 0};
        ZSTD_outBuffer ob = {dst, dstLen, 0};
        size_t r = ZSTD_decompressStream(zstd_, &ob, &ib);
        if (ZSTD_isError(r)) return ZSTD_getErrorName(r);
        *consumed = ib.pos;
        *produced = ob.pos;
        *hint = r;
        break;
      }
      case Format::Gzip: {
        // A blob may hold several gzip members one after another (RFC 1952 §2.2); Go's gzip reader,
        // which Docker and podman use, reads them all. After a member, what follows must be another.
        if (memberEnded_ && srcLen > 0) {
          if (inflateReset(&z_) != Z_OK) return "inflateReset failed";
          memberEnded_ = false;
        }
        z_.next_in = const_cast<Bytef *>(src);
        z_.avail_in = static_cast<uInt>(srcLen);
        z_.next_out = dst;
        z_.avail_out = static_cast<uInt>(dstLen);
        int r = memberEnded_ ? Z_STREAM_END : inflate(&z_, Z_NO_FLUSH);
        *consumed = srcLen - z_.avail_in;
        *produced = dstLen - z_.avail_out;
        if (r == Z_STREAM_END) {
          memberEnded_ = true;
          *hint = 0;
        } else if (r == Z_BUF_ERROR && *consumed == 0 && *produced == 0) {
          // No progress possible with what was given (zlib.h: "not fatal"): more input is needed.
        } else if (r != Z_OK) {
          return z_.msg ? z_.msg : "invalid gzip data";
        }
        break;
      }
    }
    if (*produced > 0 && EVP_DigestUpdate(md_, dst, *produced) != 1) return "SHA-256 update failed";
    total_ += *produced;
    return nullptr;
  }

 private:
  void Free() {
    if (zstd_) ZSTD_freeDCtx(zstd_);
    zstd_ = nullptr;
    if (zOpen_) inflateEnd(&z_);
    zOpen_ = false;
    if (md_) EVP_MD_CTX_free(md_);
    md_ = nullptr;
  }

  // step(input, inOffset, inLength, output, outOffset, outLength, callback(err, consumed, produced, hint))
  Napi::Value Step(const Napi::CallbackInfo &info);

  // digest(): { digest: 'sha256:<hex>', size } of everything produced so far.
  Napi::Value Digest(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!md_ || busy_) {
      Napi::Error::New(env, md_ ? "LayerDecoder.digest: a step is still running" : "LayerDecoder.digest: the decoder is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    // Finalise a copy, so the running hash could go on.
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    bool ok = c && EVP_MD_CTX_copy_ex(c, md_) == 1 && EVP_DigestFinal_ex(c, out, &n) == 1;
    EVP_MD_CTX_free(c);
    if (!ok) {
      Napi::Error::New(env, "LayerDecoder.digest: SHA-256 failed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    static const char hex[] = "0123456789abcdef";
    std::string s = "sha256:";
    for (unsigned int i = 0; i < n; i++) {
      s.push_back(hex[out[i] >> 4]);
      s.push_back(hex[out[i] & 15]);
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("digest", s);
    r.Set("size", Napi::Number::New(env, static_cast<double>(total_)));
    return r;
  }

  // close(): frees the decoder now rather than at garbage collection (not while a step runs).
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (busy_) {
      Napi::Error::New(info.Env(), "LayerDecoder.close: a step is still running").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    Free();
    return info.Env().Undefined();
  }

  Format format_ = Format::None;
  ZSTD_DCtx *zstd_ = nullptr;
  z_stream z_;
  bool zOpen_ = false;
  bool memberEnded_ = false;
  EVP_MD_CTX *md_ = nullptr;
  uint64_t total_ = 0;
  bool busy_ = false;

  friend class StepWork;
  bool Closed() const { return md_ == nullptr; }
};

class StepWork : public Napi::AsyncWorker {
 public:
  StepWork(Napi::Function cb, Decoder *dec, Napi::Object self, Napi::Object in, const uint8_t *src, size_t srcLen, Napi::Object out,
           uint8_t *dst, size_t dstLen)
      : Napi::AsyncWorker(cb, "lodger:layer-decode"), dec_(dec), src_(src), srcLen_(srcLen), dst_(dst), dstLen_(dstLen) {
    // The decoder and both buffers stay alive (and in place) until the step is over.
    self_ = Napi::Persistent(self);
    in_ = Napi::Persistent(in);
    out_ = Napi::Persistent(out);
  }

  void Execute() override {
    const char *err = dec_->Run(src_, srcLen_, dst_, dstLen_, &consumed_, &produced_, &hint_);
    if (err) SetError(err);
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
  if (Closed() || busy_) {
    Napi::Error::New(env, Closed() ? "LayerDecoder.step: the decoder is closed" : "LayerDecoder.step: the previous step is still running")
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

// Called from native.cc's Init: adds LayerDecoder to the addon's exports.
void RegisterLayerDecoder(Napi::Env env, Napi::Object exports) { exports.Set("LayerDecoder", Decoder::Define(env)); }

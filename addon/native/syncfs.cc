// syncfs(path, callback): syncfs(2) of the filesystem holding PATH, on libuv's thread pool — one call makes
// every file of an unpacked layer durable before the store records the layer as complete.
//
// syncfs(2) writes back all dirty data and metadata of that filesystem (not only ours); it needs no
// privilege, and since Linux 5.8 it reports writeback errors that happened since the fd was opened.
#include <napi.h>

#include "sysError.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace {

class SyncfsWork : public Napi::AsyncWorker {
 public:
  SyncfsWork(Napi::Function cb, std::string path) : Napi::AsyncWorker(cb, "lodger:syncfs"), path_(std::move(path)) {}

  void Execute() override {
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err_ = errno;
      step_ = "open";
      return;
    }
    if (syncfs(fd) < 0) {
      err_ = errno;
      step_ = "syncfs";
    }
    close(fd);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ == 0) {
      Callback().Call({env.Null()});
      return;
    }
    Callback().Call({MakeSysError(env, step_, path_, err_).Value()});
  }

 private:
  std::string path_;
  int err_ = 0;
  const char *step_ = "";
};

Napi::Value Syncfs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !(info[0].IsString() || info[0].IsBuffer()) || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "Usage: syncfs(path: string | Buffer, callback: (err) => void)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path;
  if (info[0].IsBuffer()) {
    Napi::Buffer<char> b = info[0].As<Napi::Buffer<char>>();
    path.assign(b.Data(), b.Length());
  } else {
    path = info[0].As<Napi::String>();
  }
  (new SyncfsWork(info[1].As<Napi::Function>(), std::move(path)))->Queue();
  return env.Undefined();
}

}  // namespace

// Called from native.cc's Init: adds syncfs to the addon's exports.
void RegisterSyncfs(Napi::Env env, Napi::Object exports) { exports.Set("syncfs", Napi::Function::New(env, Syncfs)); }

// lodger_native: the few syscalls Node lacks — statfs magic, xattrs, mknod (whiteouts), big pipes — each
// checking its arguments ("Usage: …") and throwing errors that name the syscall and carry errno's code.
#include <napi.h>

#include "sysError.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <vector>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

// Defined in layerDecoder.cc, syncfs.cc and peerCred.cc: each adds its functions to the exports.
void RegisterLayerDecoder(Napi::Env env, Napi::Object exports);
void RegisterSyncfs(Napi::Env env, Napi::Object exports);
void RegisterPeerCred(Napi::Env env, Napi::Object exports);

namespace {

Napi::Value SysError(Napi::Env env, const char *syscall, const std::string &path, int err) {
  MakeSysError(env, syscall, path, err).ThrowAsJavaScriptException();
  return env.Undefined();
}

// A path as Node gives it: a string, or a Buffer for names that are not UTF-8 (tar(5) names are bytes).
std::string PathArg(const Napi::Value &v) {
  if (v.IsBuffer()) {
    Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  return v.As<Napi::String>();
}

bool CheckArgs(const Napi::CallbackInfo &info, size_t n, const char *usage) {
  if (info.Length() < n) {
    Napi::TypeError::New(info.Env(), std::string("Usage: ") + usage).ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// statfsType(path): the filesystem's magic number (statfs(2) f_type), to tell NFS/Lustre/GPFS from local disks.
Napi::Value StatfsType(const Napi::CallbackInfo &info) {
  if (!CheckArgs(info, 1, "statfsType(path: string)")) return info.Env().Undefined();
  std::string path = PathArg(info[0]);
  struct statfs s;
  if (statfs(path.c_str(), &s) < 0) return SysError(info.Env(), "statfs", path, errno);
  return Napi::Number::New(info.Env(), static_cast<double>(static_cast<unsigned long>(s.f_type)));
}

// lsetxattr(path, name, value: Buffer)
Napi::Value Lsetxattr(const Napi::CallbackInfo &info) {
  if (!CheckArgs(info, 3, "lsetxattr(path: string, name: string, value: Buffer)")) return info.Env().Undefined();
  std::string path = PathArg(info[0]), name = info[1].As<Napi::String>();
  Napi::Buffer<char> v = info[2].As<Napi::Buffer<char>>();
  if (lsetxattr(path.c_str(), name.c_str(), v.Data(), v.Length(), 0) < 0) return SysError(info.Env(), "lsetxattr", path, errno);
  return info.Env().Undefined();
}

// lgetxattr(path, name): Buffer, or null when the attribute is absent.
Napi::Value Lgetxattr(const Napi::CallbackInfo &info) {
  if (!CheckArgs(info, 2, "lgetxattr(path: string, name: string)")) return info.Env().Undefined();
  std::string path = PathArg(info[0]), name = info[1].As<Napi::String>();
  ssize_t n = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
  if (n < 0) return errno == ENODATA ? info.Env().Null() : SysError(info.Env(), "lgetxattr", path, errno);
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  n = lgetxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
  if (n < 0) return SysError(info.Env(), "lgetxattr", path, errno);
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), static_cast<size_t>(n));
}

// llistxattr(path): string[]
Napi::Value Llistxattr(const Napi::CallbackInfo &info) {
  if (!CheckArgs(info, 1, "llistxattr(path: string)")) return info.Env().Undefined();
  std::string path = PathArg(info[0]);
  ssize_t n = llistxattr(path.c_str(), nullptr, 0);
  if (n < 0) return (errno == ENOTSUP) ? Napi::Array::New(info.Env()) : SysError(info.Env(), "llistxattr", path, errno);
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  n = llistxattr(path.c_str(), buf.data(), buf.size());
  if (n < 0) return SysError(info.Env(), "llistxattr", path, errno);
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t i = 0;
  for (ssize_t off = 0; off < n;) {
    std::string name(buf.data() + off);
    off += static_cast<ssize_t>(name.size()) + 1;
    if (!name.empty()) out.Set(i++, Napi::String::New(info.Env(), name));
  }
  return out;
}

// mknod(path, mode, major, minor): used for overlay whiteouts (0:0 character devices), which root of a
// user namespace may create (mknod(2); allowed for 0:0 since Linux 5.8).
Napi::Value Mknod(const Napi::CallbackInfo &info) {
  if (!CheckArgs(info, 4, "mknod(path: string, mode: number, major: number, minor: number)")) return info.Env().Undefined();
  std::string path = PathArg(info[0]);
  mode_t mode = info[1].As<Napi::Number>().Uint32Value();
  dev_t dev = makedev(info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Uint32Value());
  if (mknod(path.c_str(), mode, dev) < 0) return SysError(info.Env(), "mknod", path, errno);
  return info.Env().Undefined();
}

// pipe(capacity): [readFd, writeFd], both close-on-exec, with the pipe's buffer grown to CAPACITY where
// the user may (fcntl(2) F_SETPIPE_SZ: up to /proc/sys/fs/pipe-max-size, and only while the user's
// pipe-user-pages-soft quota lasts; a refusal keeps the default 64 KiB). Node's own stdio pipes are
// socketpairs whose buffer an unprivileged process cannot raise past net.core.wmem_max (~200 KiB).
Napi::Value Pipe(const Napi::CallbackInfo &info) {
  if (!CheckArgs(info, 1, "pipe(capacity: number)")) return info.Env().Undefined();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return SysError(info.Env(), "pipe2", "", errno);
  int capacity = info[0].As<Napi::Number>().Int32Value();
  if (capacity > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, capacity);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  out.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("statfsType", Napi::Function::New(env, StatfsType));
  exports.Set("lsetxattr", Napi::Function::New(env, Lsetxattr));
  exports.Set("lgetxattr", Napi::Function::New(env, Lgetxattr));
  exports.Set("llistxattr", Napi::Function::New(env, Llistxattr));
  exports.Set("mknod", Napi::Function::New(env, Mknod));
  RegisterLayerDecoder(env, exports);
  RegisterSyncfs(env, exports);
  RegisterPeerCred(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(lodger_native, Init)

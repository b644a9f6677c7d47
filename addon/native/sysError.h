// One shape for the addon's system-call errors: Node's own (syscall, path, errno, code), so callers
// branch on `code` as they do on fs errors.
#pragma once

#include <napi.h>

#include <cstring>
#include <string>

inline Napi::Error MakeSysError(Napi::Env env, const char *syscall, const std::string &path, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + "(" + path + ") failed: " + strerror(err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.Set("path", Napi::String::New(env, path));
  e.Set("errno", Napi::Number::New(env, -err));
  // strerrorname_np(3) (glibc 2.32+): ENOENT, EPERM…
  const char *code = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, code ? code : "EIO"));
  return e;
}

// peerCred(fd): who is at the other end of a connected unix socket — SO_PEERCRED (unix(7)), which Node
// cannot read itself; the API service refuses connections from any uid but its own.
#include <napi.h>

#include "sysError.h"

#include <cerrno>
#include <string>
#include <sys/socket.h>
#include <sys/types.h>

namespace {

Napi::Value PeerCred(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "Usage: peerCred(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    MakeSysError(env, "getsockopt", "SO_PEERCRED fd " + std::to_string(fd), errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

}  // namespace

// Called from native.cc's Init: adds peerCred to the addon's exports.
void RegisterPeerCred(Napi::Env env, Napi::Object exports) { exports.Set("peerCred", Napi::Function::New(env, PeerCred)); }

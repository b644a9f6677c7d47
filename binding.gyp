{
  "targets": [
    {
      "target_name": "lodger-helper",
      "type": "executable",
      "sources": [
        "addon/helper/main.c",
        "addon/helper/plan.c",
        "addon/helper/report.c",
        "addon/helper/idmap.c",
        "addon/helper/mounts.c",
        "addon/helper/fusemount.c",
        "addon/helper/process.c",
        "addon/helper/supervise.c",
        "addon/helper/monitor.c",
        "addon/helper/caps.c",
        "addon/helper/seccomp.c"
      ],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-strict-aliasing"],
      "ldflags": [],
      "libraries": ["-lseccomp"]
    },
    {
      "target_name": "lodger_native",
      "sources": ["addon/native/native.cc", "addon/native/layerDecoder.cc", "addon/native/syncfs.cc", "addon/native/peerCred.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-lzstd"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"]
    }
  ]
}

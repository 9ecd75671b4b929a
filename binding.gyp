{
  "targets": [
    {
      "target_name": "switchyard",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/btf_describe.cc",
        "native/object.cc",
        "native/map.cc",
        "native/program.cc",
        "native/libbpf_log.cc",
        "native/netlink.cc",
        "native/ipvs_wire.cc",
        "native/ipvs_js.cc",
        "native/ipvs.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}

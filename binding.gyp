{
  "targets": [
    {
      "target_name": "tz_shm",
      "sources": ["native/shm.cc", "native/vhost.cc"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}

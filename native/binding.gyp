{
  "targets": [
    {
      "target_name": "pilot_aead",
      "sources": ["pilot-aead.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}

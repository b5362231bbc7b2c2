/*
 * AES-256-GCM for the tunnel with a key schedule made once per session (node:crypto makes a new cipher
 * object, with its name lookup and key expansion, for every packet). Uses the OpenSSL that Node itself
 * links and exports. Optional: src/transport/native-aead.ts falls back to node:crypto when this is not built.
 *
 * create(key)                                  -> context (32-byte key; freed with the context object)
 * seal(ctx, buf, ivOff, aad, off, len)         -> undefined: buf[off, off+len) encrypted in place, the
 *                                                 16-byte tag written at buf[off+len]
 * open(ctx, buf, ivOff, aad, off, len)         -> true when the tag at buf[off+len] authenticates; the
 *                                                 plaintext is then in place. On false the bytes are
 *                                                 restored to the ciphertext (another key may be tried).
 * The 12-byte nonce is read at buf[ivOff]. Every range is checked against the buffer.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SIZE 32
#define NONCE_SIZE 12
#define TAG_SIZE 16

static const napi_type_tag AEAD_TAG = {0x70696c6f74616561ULL, 0x6164636f6e746578ULL};

typedef struct {
  EVP_CIPHER_CTX *enc;
  EVP_CIPHER_CTX *dec;
} aead_ctx;

static void ctx_free(aead_ctx *c) {
  if (c == NULL) return;
  if (c->enc != NULL) EVP_CIPHER_CTX_free(c->enc);
  if (c->dec != NULL) EVP_CIPHER_CTX_free(c->dec);
  free(c);
}

/* What a context holds outside the JS heap (two OpenSSL cipher contexts with their key schedules), told to
 * V8 so that it collects unreachable contexts in time. */
#define CTX_EXTERNAL_BYTES 2048

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  int64_t ignored;
  napi_adjust_external_memory(env, -CTX_EXTERNAL_BYTES, &ignored);
  ctx_free((aead_ctx *)data);
}

static napi_value fail(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return fail(env, "ERR_INVALID_ARG", "create(key) needs a key");
  void *key = NULL;
  size_t klen = 0;
  if (napi_get_buffer_info(env, argv[0], &key, &klen) != napi_ok || klen != KEY_SIZE)
    return fail(env, "ERR_INVALID_ARG", "the key must be a 32-byte Buffer");
  aead_ctx *c = calloc(1, sizeof *c);
  if (c == NULL) return fail(env, "ERR_NATIVE_AEAD", "out of memory");
  c->enc = EVP_CIPHER_CTX_new();
  c->dec = EVP_CIPHER_CTX_new();
  if (c->enc == NULL || c->dec == NULL ||
      EVP_EncryptInit_ex(c->enc, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
      EVP_DecryptInit_ex(c->dec, EVP_aes_256_gcm(), NULL, key, NULL) != 1) {
    ctx_free(c);
    return fail(env, "ERR_NATIVE_AEAD", "AES-256-GCM initialisation failed");
  }
  napi_value ext;
  if (napi_create_external(env, c, finalize, NULL, &ext) != napi_ok ||
      napi_type_tag_object(env, ext, &AEAD_TAG) != napi_ok) {
    ctx_free(c);
    return fail(env, "ERR_NATIVE_AEAD", "could not wrap the context");
  }
  int64_t ignored;
  napi_adjust_external_memory(env, CTX_EXTERNAL_BYTES, &ignored);
  return ext;
}

typedef struct {
  aead_ctx *ctx;
  unsigned char *buf;
  unsigned char iv[NONCE_SIZE]; /* a copy: the buffer's bytes at ivOff may be decrypted in place */
  const unsigned char *aad;
  size_t aad_len;
  size_t off;
  size_t len;
} call_args;

/* Reads (ctx, buf, ivOff, aad, off, len) and checks every range; false after throwing. */
static int read_args(napi_env env, napi_callback_info info, call_args *a) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_error(env, "ERR_INVALID_ARG", "expected (ctx, buf, ivOff, aad, off, len)");
    return 0;
  }
  void *ctx = NULL;
  void *buf = NULL;
  void *aad = NULL;
  size_t blen = 0;
  uint32_t iv_off = 0;
  uint32_t off = 0;
  uint32_t len = 0;
  napi_valuetype type;
  bool ours = false;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, argv[0], &AEAD_TAG, &ours) != napi_ok || !ours ||
      napi_get_value_external(env, argv[0], &ctx) != napi_ok || ctx == NULL ||
      napi_get_buffer_info(env, argv[1], &buf, &blen) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &iv_off) != napi_ok ||
      napi_get_buffer_info(env, argv[3], &aad, &a->aad_len) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &off) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "bad argument types");
    return 0;
  }
  /* No sums: size_t is 32 bits on 32-bit platforms. */
  if (iv_off > blen || blen - iv_off < NONCE_SIZE || off > blen || blen - off < TAG_SIZE ||
      len > blen - off - TAG_SIZE || len > INT32_MAX || a->aad_len > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "range outside the buffer");
    return 0;
  }
  a->ctx = (aead_ctx *)ctx;
  a->buf = (unsigned char *)buf;
  memcpy(a->iv, (const unsigned char *)buf + iv_off, NONCE_SIZE);
  a->aad = (const unsigned char *)aad;
  a->off = off;
  a->len = len;
  return 1;
}

/* CTR pass of GCM encryption over buf[off, off+len) in place (the tag is computed but not written). */
static int encrypt_in_place(const call_args *a, unsigned char *tag_out) {
  EVP_CIPHER_CTX *e = a->ctx->enc;
  int n = 0;
  if (EVP_EncryptInit_ex(e, NULL, NULL, NULL, a->iv) != 1) return 0;
  if (a->aad_len > 0 && EVP_EncryptUpdate(e, NULL, &n, a->aad, (int)a->aad_len) != 1) return 0;
  if (a->len > 0 && EVP_EncryptUpdate(e, a->buf + a->off, &n, a->buf + a->off, (int)a->len) != 1) return 0;
  if (EVP_EncryptFinal_ex(e, a->buf + a->off + a->len, &n) != 1) return 0;
  return EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG, TAG_SIZE, tag_out) == 1;
}

static napi_value seal(napi_env env, napi_callback_info info) {
  call_args a;
  if (!read_args(env, info, &a)) return NULL;
  if (!encrypt_in_place(&a, a.buf + a.off + a.len)) return fail(env, "ERR_NATIVE_AEAD", "seal failed");
  return NULL;
}

static napi_value open_frame(napi_env env, napi_callback_info info) {
  call_args a;
  if (!read_args(env, info, &a)) return NULL;
  EVP_CIPHER_CTX *d = a.ctx->dec;
  unsigned char tag[TAG_SIZE];
  unsigned char *tag_at = a.buf + a.off + a.len;
  memcpy(tag, tag_at, TAG_SIZE);
  int n = 0;
  int touched = 0;
  int ok = EVP_DecryptInit_ex(d, NULL, NULL, NULL, a.iv) == 1 &&
           (a.aad_len == 0 || EVP_DecryptUpdate(d, NULL, &n, a.aad, (int)a.aad_len) == 1);
  if (ok && a.len > 0) {
    touched = 1;
    ok = EVP_DecryptUpdate(d, a.buf + a.off, &n, a.buf + a.off, (int)a.len) == 1;
  }
  ok = ok && EVP_CIPHER_CTX_ctrl(d, EVP_CTRL_GCM_SET_TAG, TAG_SIZE, tag) == 1 &&
       EVP_DecryptFinal_ex(d, tag_at, &n) == 1;
  if (!ok && touched) {
    /* The same key stream again gives the ciphertext back; the tag bytes were never written. */
    unsigned char scratch[TAG_SIZE];
    if (!encrypt_in_place(&a, scratch)) {
      /* Never leave unauthenticated plaintext behind. */
      memset(a.buf + a.off, 0, a.len);
      return fail(env, "ERR_NATIVE_AEAD", "restore failed");
    }
    memcpy(tag_at, tag, TAG_SIZE);
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"seal", NULL, seal, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, open_frame, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

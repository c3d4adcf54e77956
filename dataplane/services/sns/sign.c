/* sign.c - SNS message signatures (sign.h). */
#include "dataplane/services/sns/sign.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set once before the workers start, read-only afterwards. */
static char *key_pem_text;
static char *cert_text;
static size_t cert_len;
static char cert_file[SL_SNS_CERT_NAME_MAX];
/* Bumped by every install, so that a thread's key of an earlier one (a
 * test that installs twice) is dropped rather than used. */
static _Atomic unsigned key_gen;

struct signer {
	unsigned gen;
	EVP_PKEY *key;
	EVP_PKEY_CTX *ctx[2]; /* SignatureVersion 1 (SHA-1) and 2 (SHA-256) */
	EVP_MD *md[2];
	EVP_MD_CTX *digest;
};

static __thread struct signer me;

static void feed_kv(void (*fn)(void *, const void *, size_t), void *arg, const char *k,
		    const char *v, size_t vlen)
{
	fn(arg, k, strlen(k));
	fn(arg, "\n", 1);
	fn(arg, v, vlen);
	fn(arg, "\n", 1);
}

void sl_sns_string_to_sign(const struct sl_sns_note *n,
			   void (*fn)(void *arg, const void *p, size_t len), void *arg)
{
	char ts[SL_SNS_TIME_BUF];
	bool control = n->token != NULL; /* SubscriptionConfirmation, UnsubscribeConfirmation */

	sl_sns_timestamp(n->timestamp_ms, ts);
	feed_kv(fn, arg, "Message", n->message, n->message_len);
	feed_kv(fn, arg, "MessageId", n->message_id, strlen(n->message_id));
	if (control) {
		const char *u = n->subscribe_url ? n->subscribe_url : "";
		feed_kv(fn, arg, "SubscribeURL", u, strlen(u));
	} else if (n->subject) {
		feed_kv(fn, arg, "Subject", n->subject, strlen(n->subject));
	}
	feed_kv(fn, arg, "Timestamp", ts, strlen(ts));
	if (control)
		feed_kv(fn, arg, "Token", n->token, strlen(n->token));
	feed_kv(fn, arg, "TopicArn", n->topic_arn, strlen(n->topic_arn));
	feed_kv(fn, arg, "Type", n->type, strlen(n->type));
}

static EVP_PKEY *read_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

void sl_sns_sign_uninstall(void)
{
	free(key_pem_text);
	free(cert_text);
	key_pem_text = cert_text = NULL;
	cert_len = 0;
	cert_file[0] = '\0';
	atomic_fetch_add(&key_gen, 1);
}

int sl_sns_sign_install(const char *key_pem, const char *cert_pem)
{
	EVP_PKEY *k = read_key(key_pem);
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	unsigned char der_md[32];
	unsigned md_len = 0;
	int rc = -EINVAL;

	if (k && x && EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA && X509_check_private_key(x, k) == 1 &&
	    X509_digest(x, EVP_sha256(), der_md, &md_len) == 1 && md_len == 32) {
		sl_sns_sign_uninstall();
		key_pem_text = strdup(key_pem);
		cert_text = strdup(cert_pem);
		if (key_pem_text && cert_text) {
			cert_len = strlen(cert_text);
			int o = snprintf(cert_file, sizeof(cert_file), "SimpleNotificationService-");
			for (unsigned i = 0; i < 16; i++)
				o += snprintf(cert_file + o, sizeof(cert_file) - (size_t)o, "%02x",
					      der_md[i]);
			snprintf(cert_file + o, sizeof(cert_file) - (size_t)o, ".pem");
			rc = 0;
		} else {
			sl_sns_sign_uninstall();
			rc = -ENOMEM;
		}
	}
	X509_free(x);
	BIO_free(b);
	EVP_PKEY_free(k);
	return rc;
}

const char *sl_sns_cert_pem(size_t *len)
{
	if (len)
		*len = cert_len;
	return cert_text;
}

const char *sl_sns_cert_name(void)
{
	return cert_text ? cert_file : NULL;
}

void sl_sns_sign_thread_end(void)
{
	for (int i = 0; i < 2; i++) {
		EVP_PKEY_CTX_free(me.ctx[i]);
		EVP_MD_free(me.md[i]);
	}
	EVP_MD_CTX_free(me.digest);
	EVP_PKEY_free(me.key);
	memset(&me, 0, sizeof(me));
}

/* This thread's key and contexts, made on its first signature. */
static int signer_ready(void)
{
	unsigned gen = atomic_load(&key_gen);

	if (me.key && me.gen == gen)
		return 0;
	sl_sns_sign_thread_end();
	if (!key_pem_text)
		return -ENOENT;
	me.gen = gen;
	me.key = read_key(key_pem_text);
	me.digest = EVP_MD_CTX_new();
	me.md[0] = EVP_MD_fetch(NULL, "SHA1", NULL);
	me.md[1] = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!me.key || !me.digest || !me.md[0] || !me.md[1])
		goto fail;
	for (int i = 0; i < 2; i++) {
		me.ctx[i] = EVP_PKEY_CTX_new(me.key, NULL);
		if (!me.ctx[i] || EVP_PKEY_sign_init(me.ctx[i]) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_padding(me.ctx[i], RSA_PKCS1_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(me.ctx[i], me.md[i]) <= 0)
			goto fail;
	}
	return 0;
fail:
	sl_sns_sign_thread_end();
	return -ENOMEM;
}

static void digest_feed(void *arg, const void *p, size_t len)
{
	int *ok = arg;

	if (*ok && EVP_DigestUpdate(me.digest, p, len) != 1)
		*ok = 0;
}

int sl_sns_sign(const struct sl_sns_note *n, int version, char out[SL_SNS_SIG_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE], sig[512];
	unsigned md_len = 0;
	size_t sig_len = sizeof(sig);
	int v = version == 2 ? 1 : 0;
	int ok = 1;

	int rc = signer_ready();
	if (rc < 0)
		return rc;
	if (EVP_DigestInit_ex(me.digest, me.md[v], NULL) != 1)
		return -EIO;
	sl_sns_string_to_sign(n, digest_feed, &ok);
	if (!ok || EVP_DigestFinal_ex(me.digest, md, &md_len) != 1 ||
	    EVP_PKEY_sign(me.ctx[v], sig, &sig_len, md, md_len) <= 0)
		return -EIO;
	/* 4 output characters per 3 bytes, and the NUL. */
	if ((sig_len + 2) / 3 * 4 + 1 > SL_SNS_SIG_MAX)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)out, sig, (int)sig_len);
	return 0;
}

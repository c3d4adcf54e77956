/* keys.c - the server's SNS signing key and certificate (keys.h): made once,
 * kept in data/sns-signing.pem, read back at every start. */
#include "control/sns/keys.h"

#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/fileio.h"
#include "dataplane/limits.h"
#include "dataplane/runtime/log.h"
#include "dataplane/services/sns/sign.h"

/* The PEM of a BIO's contents, NUL-terminated, appended to *out. */
static int bio_append(BIO *b, char **out, size_t *len)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *grown = n > 0 ? realloc(*out, *len + (size_t)n + 1) : NULL;

	if (!grown)
		return -ENOMEM;
	memcpy(grown + *len, p, (size_t)n);
	*len += (size_t)n;
	grown[*len] = '\0';
	*out = grown;
	return 0;
}

/* A new RSA key and a self-signed certificate for it, as one PEM text
 * (key, then certificate). NULL on failure. */
static char *make_pem(size_t *len)
{
	EVP_PKEY *k = EVP_RSA_gen(SL_SNS_SIGNING_KEY_BITS);
	X509 *x = X509_new();
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	unsigned char serial[16];
	char *out = NULL;
	bool ok = k && x && kb && cb && RAND_bytes(serial, sizeof(serial)) == 1;

	if (ok) {
		serial[0] &= 0x7f; /* a positive serial number */
		BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
		X509_NAME *name = X509_get_subject_name(x);
		ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
		     X509_set_version(x, 2) == 1 &&
		     X509_gmtime_adj(X509_getm_notBefore(x), -24 * 3600) &&
		     X509_gmtime_adj(X509_getm_notAfter(x), SL_SNS_SIGNING_CERT_DAYS * 24L * 3600) &&
		     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
						(const unsigned char *)"sluice", -1, -1, 0) == 1 &&
		     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						(const unsigned char *)"sns.amazonaws.com", -1, -1,
						0) == 1 &&
		     X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, k) == 1 &&
		     X509_sign(x, k, EVP_sha256()) > 0 &&
		     PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) == 1 &&
		     PEM_write_bio_X509(cb, x) == 1;
		BN_free(bn);
	}
	*len = 0;
	if (ok && (bio_append(kb, &out, len) < 0 || bio_append(cb, &out, len) < 0)) {
		free(out);
		out = NULL;
	}
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(k);
	return ok ? out : NULL;
}

/* Split the file's text at its certificate: the key before, the
 * certificate from there. */
static int install_text(char *text)
{
	char *cert = strstr(text, "-----BEGIN CERTIFICATE-----");

	if (!cert || cert == text)
		return -EINVAL;
	char *key = strndup(text, (size_t)(cert - text));
	if (!key)
		return -ENOMEM;
	int rc = sl_sns_sign_install(key, cert);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	return rc;
}

int sl_sns_keys_load(const char *data_dir)
{
	char path[PATH_MAX];
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/sns-signing.pem", data_dir);
	char *text = sl_read_file(path, 1 << 20, &len);
	if (!text && errno != ENOENT) {
		sl_error("sns: cannot read the signing key %s: %s", path, strerror(errno));
		return -errno;
	}
	int rc;
	if (text) {
		rc = install_text(text);
		if (rc < 0)
			sl_error("sns: %s holds no usable RSA key and certificate (delete it to "
				 "make a new one)", path);
	} else {
		text = make_pem(&len);
		if (!text) {
			sl_error("sns: cannot make a signing key");
			return -ENOMEM;
		}
		rc = sl_write_file_atomic(path, text, len, 0600);
		if (rc < 0)
			sl_error("sns: cannot write the signing key %s: %s", path, strerror(-rc));
		else
			rc = install_text(text);
		if (rc == 0)
			sl_info("sns: made a signing key and certificate in %s", path);
	}
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

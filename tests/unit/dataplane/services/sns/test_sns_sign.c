/* Tests for dataplane/services/sns/sign.c: AWS's string to sign for each
 * message type, byte for byte; signatures of both versions that OpenSSL
 * verifies with the certificate's key, and that fail for any other text;
 * and installs refused for a key that is not the certificate's. */
#include <criterion/criterion.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/services/sns/envelope.h"
#include "dataplane/services/sns/sign.h"

struct buf {
	char s[4096];
	size_t n;
};

static void collect(void *arg, const void *p, size_t len)
{
	struct buf *b = arg;

	cr_assert_lt(b->n + len, sizeof(b->s));
	memcpy(b->s + b->n, p, len);
	b->n += len;
	b->s[b->n] = '\0';
}

Test(sns_sign, notification_string_to_sign)
{
	struct sl_sns_note n = {
		.type = "Notification", .message_id = "id-1", .topic_arn = "arn:t",
		.subject = "Subj", .message = "a\nb", .message_len = 3, .timestamp_ms = 1764766616651,
		.unsubscribe_url = "http://h/u", /* not signed */
	};
	struct buf b = { .n = 0 };

	sl_sns_string_to_sign(&n, collect, &b);
	cr_assert_str_eq(b.s, "Message\na\nb\nMessageId\nid-1\nSubject\nSubj\n"
			      "Timestamp\n2025-12-03T12:56:56.651Z\nTopicArn\narn:t\nType\nNotification\n");
	n.subject = NULL;
	b.n = 0;
	sl_sns_string_to_sign(&n, collect, &b);
	cr_assert_str_eq(b.s, "Message\na\nb\nMessageId\nid-1\n"
			      "Timestamp\n2025-12-03T12:56:56.651Z\nTopicArn\narn:t\nType\nNotification\n");
}

Test(sns_sign, confirmation_string_to_sign)
{
	struct sl_sns_note n = {
		.type = "SubscriptionConfirmation", .message_id = "id-2", .token = "tok",
		.topic_arn = "arn:t", .subject = "ignored", .message = "visit", .message_len = 5,
		.subscribe_url = "http://h/?Action=ConfirmSubscription", .timestamp_ms = 0,
	};
	struct buf b = { .n = 0 };

	sl_sns_string_to_sign(&n, collect, &b);
	cr_assert_str_eq(b.s, "Message\nvisit\nMessageId\nid-2\n"
			      "SubscribeURL\nhttp://h/?Action=ConfirmSubscription\n"
			      "Timestamp\n1970-01-01T00:00:00.000Z\nToken\ntok\nTopicArn\narn:t\n"
			      "Type\nSubscriptionConfirmation\n");
}

/* A key and a self-signed certificate for it, as PEM. */
static void make_pair(char **key_pem, char **cert_pem, EVP_PKEY **pub)
{
	EVP_PKEY *k = EVP_RSA_gen(1024);
	X509 *x = X509_new();
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	char *p;

	cr_assert(k && x && kb && cb);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"t", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	cr_assert_gt(X509_sign(x, k, EVP_sha256()), 0);
	PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL);
	PEM_write_bio_X509(cb, x);
	long n = BIO_get_mem_data(kb, &p);
	*key_pem = strndup(p, (size_t)n);
	n = BIO_get_mem_data(cb, &p);
	*cert_pem = strndup(p, (size_t)n);
	*pub = k;
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
}

static bool verifies(EVP_PKEY *k, const EVP_MD *md, const char *text, const char *b64)
{
	unsigned char sig[1024];
	int n = EVP_DecodeBlock(sig, (const unsigned char *)b64, (int)strlen(b64));
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	cr_assert_gt(n, 0);
	/* EVP_DecodeBlock counts base64's padding as bytes. */
	size_t len = (size_t)n - (b64[strlen(b64) - 1] == '=') - (b64[strlen(b64) - 2] == '=');
	bool ok = EVP_DigestVerifyInit(c, NULL, md, NULL, k) == 1 &&
		  EVP_DigestVerify(c, sig, len, (const unsigned char *)text, strlen(text)) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

Test(sns_sign, signatures_verify_with_the_certificate_key)
{
	char *key, *cert, sig[SL_SNS_SIG_MAX];
	EVP_PKEY *k;
	struct buf b = { .n = 0 };
	struct sl_sns_note n = {
		.type = "Notification", .message_id = "m", .topic_arn = "arn:t", .message = "hello",
		.message_len = 5, .timestamp_ms = 1000,
	};

	cr_assert_eq(sl_sns_sign(&n, 1, sig), -ENOENT, "no key installed");
	make_pair(&key, &cert, &k);
	cr_assert_eq(sl_sns_sign_install(key, cert), 0);
	size_t len;
	cr_assert_str_eq(sl_sns_cert_pem(&len), cert);
	cr_assert_eq(len, strlen(cert));
	const char *name = sl_sns_cert_name();
	cr_assert_eq(strlen(name), strlen("SimpleNotificationService-") + 32 + 4);
	cr_assert_eq(strncmp(name, "SimpleNotificationService-", 26), 0);
	sl_sns_string_to_sign(&n, collect, &b);
	cr_assert_eq(sl_sns_sign(&n, 1, sig), 0);
	cr_assert(verifies(k, EVP_sha1(), b.s, sig));
	cr_assert_not(verifies(k, EVP_sha256(), b.s, sig));
	cr_assert_eq(sl_sns_sign(&n, 2, sig), 0);
	cr_assert(verifies(k, EVP_sha256(), b.s, sig));
	b.s[9] ^= 1; /* one bit of the message */
	cr_assert_not(verifies(k, EVP_sha256(), b.s, sig));

	/* A second install (another key) takes over this thread's signer. */
	char *key2, *cert2;
	EVP_PKEY *k2;
	make_pair(&key2, &cert2, &k2);
	cr_assert_eq(sl_sns_sign_install(key2, cert), -EINVAL, "the key is not the certificate's");
	cr_assert_eq(sl_sns_sign_install(key2, cert2), 0);
	b.s[9] ^= 1;
	cr_assert_eq(sl_sns_sign(&n, 2, sig), 0);
	cr_assert(verifies(k2, EVP_sha256(), b.s, sig));
	cr_assert_not(verifies(k, EVP_sha256(), b.s, sig));
	cr_assert_eq(sl_sns_sign_install("not a key", cert2), -EINVAL);
	cr_assert_str_eq(sl_sns_cert_pem(NULL), cert2, "a refused install keeps the key in force");

	sl_sns_sign_thread_end();
	sl_sns_sign_uninstall();
	cr_assert_null(sl_sns_cert_name());
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	free(key);
	free(cert);
	free(key2);
	free(cert2);
}

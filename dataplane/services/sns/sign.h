/* sign.h - message signatures of SNS (SignatureVersion 1: SHA1withRSA, 2:
 * SHA256withRSA) over AWS's string to sign, with the server's one RSA key,
 * and the certificate subscribers fetch from SigningCertURL.
 *
 * The key is installed once, on the control thread before the workers
 * start (control/sns/keys.c makes it, or reads it back); after that every
 * thread signs with a key object of its own, so that no two threads share
 * one (OpenSSL's RSA blinding would lock between them). A thread that
 * signed frees its objects with sl_sns_sign_thread_end().
 */
#ifndef SL_SNS_SIGN_H
#define SL_SNS_SIGN_H

#include <stddef.h>

#include "dataplane/services/sns/envelope.h"

/* Base64 of an RSA signature of up to 4096 bits, with its NUL. */
#define SL_SNS_SIG_MAX 700
/* SimpleNotificationService-<32 hex>.pem, with its NUL. */
#define SL_SNS_CERT_NAME_MAX 64

/* AWS's string to sign for n ("Message\n<text>\nMessageId\n<id>\n..."), fed
 * to fn piece by piece: the keys of a Notification (Message, MessageId,
 * Subject when present, Timestamp, TopicArn, Type), or of a
 * SubscriptionConfirmation or UnsubscribeConfirmation (Message, MessageId,
 * SubscribeURL, Timestamp, Token, TopicArn, Type). */
void sl_sns_string_to_sign(const struct sl_sns_note *n,
			   void (*fn)(void *arg, const void *p, size_t len), void *arg);

/* Install the key (PEM, PKCS#8 or traditional) and its certificate (PEM).
 * Control thread, once, before the workers start. 0, or -EINVAL when
 * either does not parse or they do not belong together. */
int sl_sns_sign_install(const char *key_pem, const char *cert_pem);
void sl_sns_sign_uninstall(void);

/* The certificate in PEM, its length, and the file name it is served as
 * (at /<name> on every worker). NULL before sl_sns_sign_install(). */
const char *sl_sns_cert_pem(size_t *len);
const char *sl_sns_cert_name(void);

/* Sign n (its string to sign) with SignatureVersion `version` (1 or 2)
 * into out, in base64. 0, or -ENOENT (no key installed), -ENOMEM, -EIO.
 * Any thread, after sl_sns_sign_install(). */
int sl_sns_sign(const struct sl_sns_note *n, int version, char out[SL_SNS_SIG_MAX]);

/* Free this thread's signing objects (a worker's or the control thread's,
 * at their end). Harmless when it never signed. */
void sl_sns_sign_thread_end(void);

#endif

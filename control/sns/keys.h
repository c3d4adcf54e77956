/* keys.h - the RSA key SNS signs messages with, and its self-signed
 * certificate: made once (SL_SNS_SIGNING_KEY_BITS) and kept in
 * data/sns-signing.pem, so that a subscriber that pinned the certificate
 * keeps verifying across restarts. Control thread, at start-up. */
#ifndef SL_CONTROL_SNS_KEYS_H
#define SL_CONTROL_SNS_KEYS_H

/* Read data_dir/sns-signing.pem, or make it, and install it for signing
 * (dataplane/services/sns/sign.h). 0 or -errno (logged). */
int sl_sns_keys_load(const char *data_dir);

#endif

/* sms.h - SNS's SMS account settings (Set/GetSMSAttributes) and the
 * numbers that opted out (CheckIfPhoneNumberIsOptedOut,
 * ListPhoneNumbersOptedOut, OptInPhoneNumber), kept in the catalog.
 *
 * A number opts out when its owner answers STOP; sluice has no phones, so
 * tests opt one out with GET /_sluice/sns/opt-out?phoneNumber=N (with
 * --debug-clock only). SMS to an opted-out number is not sent.
 */
#ifndef SL_CONTROL_SNS_SMS_H
#define SL_CONTROL_SNS_SMS_H

#include <stdbool.h>

struct sl_req;
struct sl_catalog;

/* The operations (control thread). */
void sl_sns_set_sms_attributes(struct sl_req *req);
void sl_sns_get_sms_attributes(struct sl_req *req);
void sl_sns_check_if_phone_number_is_opted_out(struct sl_req *req);
void sl_sns_list_phone_numbers_opted_out(struct sl_req *req);
void sl_sns_opt_in_phone_number(struct sl_req *req);
/* GET /_sluice/sns/opt-out?phoneNumber=N (tests), on the control thread. */
void sl_sns_opt_out_phone_number(struct sl_req *req);
void sl_sns_sms_fini(void);

/* Any thread, in c: a region's setting (DefaultSenderID...), or NULL; and
 * whether phone opted out. */
const char *sl_sns_sms_setting(const struct sl_catalog *c, const char *region, const char *name);
bool sl_sns_sms_opted_out(const struct sl_catalog *c, const char *region, const char *phone);

#endif

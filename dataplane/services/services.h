/* services.h - every service sluice serves (services.c). */
#ifndef SL_SERVICES_H
#define SL_SERVICES_H

#include "dataplane/net/service.h"

extern struct sl_service *const sl_services[];
extern const unsigned sl_nservices;

#endif

/* Validators generated from the OCPP 2.0.1 / 2.1 JSON schemas: every schema
 * file has an entry, realistic payloads pass, a table of mutations fails with
 * the expected CALLERROR code and JSON pointer, and an empty object names the
 * first required property of every message (read from the schema files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_ocpp_schema.h"

#define V201 FG_OCPP_V201
#define V21 FG_OCPP_V21
#define OK FG_OCPP_OK
#define TYPE FG_OCPP_TYPE_CONSTRAINT_VIOLATION
#define OCCUR FG_OCPP_OCCURRENCE_CONSTRAINT_VIOLATION
#define PROP FG_OCPP_PROPERTY_CONSTRAINT_VIOLATION
#define FORMAT FG_OCPP_FORMAT_VIOLATION

/* Payloads are written with ' for " and turned into JSON before parsing. */
static cJSON *parse_sq(const char *sq)
{
    size_t n = strlen(sq);
    char *s = malloc(n + 1);
    cJSON *j;
    assert_non_null(s);
    for (size_t i = 0; i <= n; i++)
        s[i] = sq[i] == '\'' ? '"' : sq[i];
    j = cJSON_Parse(s);
    if (!j)
        fail_msg("test JSON does not parse: %s", s);
    free(s);
    return j;
}

/* Multibyte test strings: 20 code points of 2, 3 and 4 bytes. */
#define E5 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E20 E5 E5 E5 E5
#define EUR5 "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
#define EUR20 EUR5 EUR5 EUR5 EUR5
#define PLUG "\xf0\x9f\x94\x8c"
#define PLUG5 PLUG PLUG PLUG PLUG PLUG
#define PLUG20 PLUG5 PLUG5 PLUG5 PLUG5
#define A10 "abcdefghij"
#define A36 A10 A10 A10 "abcdef"

static const char BOOT_REQ[] =
    "{'reason':'PowerUp','chargingStation':{'model':'FG-1','vendorName':'flexgw',"
    "'serialNumber':'SN-0001','firmwareVersion':'1.0.0','modem':{'iccid':"
    "'8931000000000000000','imsi':'262010000000000'}},'customData':{'vendorId':"
    "'org.flexgw','site':{'id':[1,2]}}}";
static const char BOOT_RESP[] =
    "{'currentTime':'2026-11-25T17:00:00Z','interval':300,'status':'Accepted'}";
static const char STATUS_REQ[] =
    "{'timestamp':'2026-11-25T17:00:00.123+01:00',"
    "'connectorStatus':'Occupied','evseId':1,'connectorId':1}";
static const char HEARTBEAT_REQ[] = "{}";
static const char HEARTBEAT_RESP[] = "{'currentTime':'2026-11-25T17:00:00Z'}";
static const char AUTH_REQ[] =
    "{'idToken':{'idToken':'04A1B2C3D4E5F6','type':'ISO14443','additionalInfo':"
    "[{'additionalIdToken':'DE-FGW-C12345-6','type':'ContractId'}]}}";
static const char TX_REQ[] =
    "{'eventType':'Started','timestamp':'2026-11-25T17:00:00Z','triggerReason':"
    "'Authorized','seqNo':0,'transactionInfo':{'transactionId':'tx-0001',"
    "'chargingState':'Charging','remoteStartId':7},'idToken':{'idToken':'04A1B2C3',"
    "'type':'ISO14443'},'evse':{'id':1,'connectorId':1},'meterValue':[{'timestamp':"
    "'2026-11-25T17:00:00Z','sampledValue':[{'value':1234.5,'measurand':"
    "'Energy.Active.Import.Register','context':'Transaction.Begin','unitOfMeasure':"
    "{'unit':'Wh','multiplier':0}}]}],'offline':false,'numberOfPhasesUsed':3}";
static const char MV_REQ[] =
    "{'evseId':1,'meterValue':[{'timestamp':'2026-11-25T17:00:00Z','sampledValue':["
    "{'value':11000,'measurand':'Power.Active.Import','unitOfMeasure':{'unit':'W'}},"
    "{'value':16.1,'measurand':'Current.Import','phase':'L1'},"
    "{'value':230.2,'measurand':'Voltage','phase':'L1-N'},"
    "{'value':52.5,'measurand':'SoC','location':'EV','context':'Sample.Periodic'}]}]}";
static const char NEEDS_REQ[] =
    "{'evseId':1,'maxScheduleTuples':3,'chargingNeeds':{'requestedEnergyTransfer':"
    "'AC_three_phase','departureTime':'2026-11-26T07:30:00Z','acChargingParameters':"
    "{'energyAmount':30000,'evMinCurrent':6,'evMaxCurrent':32,'evMaxVoltage':400}}}";
static const char SCP_REQ[] =
    "{'evseId':1,'chargingProfile':{'id':100,'stackLevel':0,'chargingProfilePurpose':"
    "'TxProfile','chargingProfileKind':'Absolute','transactionId':'tx-0001',"
    "'validFrom':'2026-11-25T17:00:00Z','validTo':'2026-11-26T17:00:00Z',"
    "'chargingSchedule':[{'id':1,'startSchedule':'2026-11-25T17:00:00Z','duration':"
    "86400,'chargingRateUnit':'W','chargingSchedulePeriod':[{'startPeriod':0,'limit':"
    "11000,'numberPhases':3},{'startPeriod':3600,'limit':7400.5},{'startPeriod':7200,"
    "'limit':0}]}]}}";
static const char COMP_RESP[] =
    "{'status':'Accepted','schedule':{'evseId':1,'duration':3600,'scheduleStart':"
    "'2026-11-25T17:00:00Z','chargingRateUnit':'A','chargingSchedulePeriod':["
    "{'startPeriod':0,'limit':16},{'startPeriod':1800,'limit':10,'numberPhases':1,"
    "'phaseToUse':2}]}}";
static const char SCP21_REQ[] =
    "{'evseId':1,'chargingProfile':{'id':200,'stackLevel':1,'chargingProfilePurpose':"
    "'TxProfile','chargingProfileKind':'Absolute','transactionId':'tx-0002',"
    "'validTo':'2026-11-26T17:00:00Z','chargingSchedule':[{'id':2,'startSchedule':"
    "'2026-11-25T17:00:00Z','chargingRateUnit':'W','chargingSchedulePeriod':["
    "{'startPeriod':0,'limit':11000,'dischargeLimit':-11000,'operationMode':"
    "'ChargingOnly'},{'startPeriod':900,'dischargeLimit':-7000.5,'setpoint':-5000,"
    "'operationMode':'CentralSetpoint','numberPhases':3}]}]}}";
static const char NEEDS21_REQ[] =
    "{'evseId':1,'timestamp':'2026-11-25T17:00:00Z','chargingNeeds':{"
    "'requestedEnergyTransfer':'DC_BPT','availableEnergyTransfer':['DC','DC_BPT'],"
    "'controlMode':'DynamicControl','mobilityNeedsMode':'EVCC_SECC','departureTime':"
    "'2026-11-26T07:30:00+01:00','dcChargingParameters':{'evMaxCurrent':200,"
    "'evMaxVoltage':800,'stateOfCharge':45},'v2xChargingParameters':{"
    "'minChargePower':0,'maxChargePower':11000,'minDischargePower':0,"
    "'maxDischargePower':11000,'evTargetEnergyRequest':40000,"
    "'evMinV2XEnergyRequest':-10000,'targetSoC':80}}}";
static const char DT_REQ[] =
    "{'vendorId':'org.flexgw','messageId':'cfg','data':{'a':[1,null,'x',{'b':true}]}}";

struct valid_case {
    enum fg_ocpp_version v;
    const char *action;
    int response;
    const char *json;
};

static const struct valid_case valid[] = {
    {V201, "BootNotification", 0, BOOT_REQ},
    {V201, "BootNotification", 1, BOOT_RESP},
    {V201, "StatusNotification", 0, STATUS_REQ},
    {V201, "Heartbeat", 0, HEARTBEAT_REQ},
    {V201, "Heartbeat", 1, HEARTBEAT_RESP},
    {V201, "Authorize", 0, AUTH_REQ},
    {V201, "TransactionEvent", 0, TX_REQ},
    {V201, "MeterValues", 0, MV_REQ},
    {V201, "NotifyEVChargingNeeds", 0, NEEDS_REQ},
    {V201, "SetChargingProfile", 0, SCP_REQ},
    {V201, "GetCompositeSchedule", 1, COMP_RESP},
    {V201, "DataTransfer", 0, DT_REQ},
    {V21, "BootNotification", 0, BOOT_REQ},
    {V21, "StatusNotification", 0, STATUS_REQ},
    {V21, "Heartbeat", 1, HEARTBEAT_RESP},
    {V21, "Authorize", 0, AUTH_REQ},
    {V21, "TransactionEvent", 0, TX_REQ},
    {V21, "MeterValues", 0, MV_REQ},
    {V21, "SetChargingProfile", 0, SCP21_REQ},
    {V21, "NotifyEVChargingNeeds", 0, NEEDS21_REQ},
    {V21, "DataTransfer", 0, DT_REQ},
};

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc2 ? 1 : -1;
        if (n < 0)
            return 0;
        for (p++; n > 0; n--, p++)
            if ((*p & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

static const struct fg_ocpp_msg_schema *find(enum fg_ocpp_version v, const char *action,
                                             int response)
{
    const struct fg_ocpp_msg_schema *s = fg_ocpp_schema_find(v, action, response);
    if (!s)
        fail_msg("no schema for %s %s", action, response ? "Response" : "Request");
    return s;
}

static void test_valid_payloads(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const struct valid_case *c = &valid[i];
        struct fg_ocpp_verror e;
        cJSON *j = parse_sq(c->json);
        int rc = fg_ocpp_validate(find(c->v, c->action, c->response), j, &e);
        if (rc)
            fail_msg("%s %s: %s at %s: %s", c->action, c->v == V21 ? "2.1" : "2.0.1",
                     fg_ocpp_errcode_name(e.code), e.path, e.desc);
        assert_int_equal(e.code, FG_OCPP_OK);
        assert_string_equal(e.path, "");
        assert_string_equal(e.desc, "");
        cJSON_Delete(j);
    }
}

/* One mutation: take base, set the value at ptr (NULL: use base as is) to
 * value (JSON, ' for "; NULL: delete it) and expect code at path, with
 * desc containing the given text (NULL: any). */
struct mutation {
    enum fg_ocpp_version v;
    const char *action;
    int response;
    const char *base;
    const char *ptr;
    const char *value;
    enum fg_ocpp_errcode code;
    const char *path;
    const char *desc;
};

#define SCP_PERIOD "/chargingProfile/chargingSchedule/0/chargingSchedulePeriod"
#define SV "/meterValue/0/sampledValue"
#define TARIFF                                                                           \
    "{'id':1,'salesTariffEntry':[{'relativeTimeInterval':{'start':0},'consumptionCost':" \
    "[{'startValue':0,'cost':[{'costKind':'CarbonDioxideEmission','amount':"
#define TARIFF_PATH                                                                      \
    "/chargingProfile/chargingSchedule/0/salesTariff/salesTariffEntry/0/"                \
    "consumptionCost/"                                                                   \
    "0/cost/0/amount"

static const struct mutation mutations[] = {
    /* BootNotificationRequest: types, enum, required, extra, maxLength in code points */
    {V201, "BootNotification", 0, BOOT_REQ, "/reason", "5", TYPE, "/reason",
     "expected string, got number"},
    {V201, "BootNotification", 0, BOOT_REQ, "/reason", "'Foo'", PROP, "/reason",
     "\"Foo\" is not one of ApplicationReset, FirmwareUpdate"},
    {V201, "BootNotification", 0, BOOT_REQ, "/reason", NULL, OCCUR, "/reason",
     "required property \"reason\" missing"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", NULL, OCCUR,
     "/chargingStation/model", NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'" E20 "'", OK, "",
     NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'" E20 "x'", PROP,
     "/chargingStation/model", "21 characters, at most 20"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'" EUR20 "'", OK,
     "", NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'" EUR20 EUR5 "'",
     PROP, "/chargingStation/model", "25 characters, at most 20"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'" PLUG20 "'", OK,
     "", NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'" PLUG20 PLUG "'",
     PROP, "/chargingStation/model", "21 characters, at most 20"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "''", OK, "", NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/extra", "1", FORMAT,
     "/chargingStation/extra", "property \"extra\" not allowed"},
    {V201, "BootNotification", 0, BOOT_REQ, "/foo", "{}", FORMAT, "/foo", NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/customData/vendorId", NULL, OCCUR,
     "/customData/vendorId", NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/customData/any", "[{'x':null}]", OK, "",
     NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/customData", "'x'", TYPE, "/customData",
     "expected object, got string"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/modem", "[]", TYPE,
     "/chargingStation/modem", "expected object, got array"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/modem/iccid", "null", TYPE,
     "/chargingStation/modem/iccid", "got null"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'a\xff'", FORMAT,
     "/chargingStation/model", "UTF-8"},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'\xc0\xaf'",
     FORMAT, "/chargingStation/model", NULL},
    {V201, "BootNotification", 0, BOOT_REQ, "/chargingStation/model", "'\xed\xa0\x80'",
     FORMAT, "/chargingStation/model", NULL},
    {V201, "Heartbeat", 0, "{'a~b/c':1}", NULL, NULL, FORMAT, "/a~0b~1c", NULL},
    /* BootNotificationResponse: integers (32-bit) and date-time */
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "1.5", TYPE, "/interval",
     "expected integer, got 1.5"},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "1099511627776", TYPE,
     "/interval", "expected 32-bit integer"},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "2147483647", OK, "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "2147483648", TYPE, "/interval",
     NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "-2147483648", OK, "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "-2147483649", TYPE,
     "/interval", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "300.0", OK, "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "'300'", TYPE, "/interval",
     "expected integer, got string"},
    {V201, "BootNotification", 1, BOOT_RESP, "/interval", "true", TYPE, "/interval",
     "got boolean"},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-02-29T00:00:00Z'",
     PROP, "/currentTime", "not an RFC 3339 date-time"},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2028-02-29T00:00:00Z'", OK,
     "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2100-02-29T00:00:00Z'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-11-25 17:00:00Z'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-11-25T17:00:00'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-11-25T24:00:00Z'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-13-01T00:00:00Z'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-04-31T00:00:00Z'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-11-25T17:60:00Z'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime",
     "'2026-11-25T17:00:00.123456+05:30'", OK, "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime",
     "'2026-11-25T17:00:00.+01:00'", PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-11-25t17:00:00z'", OK,
     "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-12-31T23:59:60Z'", OK,
     "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime",
     "'2027-01-01T00:59:60+01:00'", OK, "", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-12-31T22:59:60Z'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-11-25T17:00:00+1:00'",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime",
     "'2026-11-25T17:00:00+24:00'", PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "'2026-11-25T17:00:00Z '",
     PROP, "/currentTime", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/currentTime", "''", PROP, "/currentTime",
     NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/status", "'accepted'", PROP, "/status",
     "\"accepted\" is not one of Accepted, Pending, Rejected"},
    {V201, "BootNotification", 1, BOOT_RESP, "/status", NULL, OCCUR, "/status", NULL},
    {V201, "BootNotification", 1, BOOT_RESP, "/statusInfo", "{}", OCCUR,
     "/statusInfo/reasonCode", NULL},
    {V201, "BootNotification", 1,
     "{'currentTime':'2026-11-25T17:00:00Z','currentTime':'2026-11-25T17:00:00Z',"
     "'interval':1,'status':'Accepted'}",
     NULL, NULL, FORMAT, "/currentTime", "duplicate property \"currentTime\""},
    {V201, "BootNotification", 1,
     "{'currentTime':'2026-11-25T17:00:00Z','interval':1,'status':'Accepted',"
     "'customData':{'vendorId':'a','vendorId':'b'}}",
     NULL, NULL, FORMAT, "/customData/vendorId", NULL},
    {V201, "BootNotification", 1,
     "{'currentTime':'2026-11-25T17:00:00Z','interval':1,'status':'Accepted',"
     "'customData':{'vendorId':'a','x':1,'x':2}}",
     NULL, NULL, OK, "", NULL},
    /* Payload itself */
    {V201, "Heartbeat", 0, "[]", NULL, NULL, FORMAT, "", "not a JSON object"},
    {V201, "Heartbeat", 0, "'x'", NULL, NULL, FORMAT, "", NULL},
    {V201, "Heartbeat", 0, HEARTBEAT_REQ, "/x", "1", FORMAT, "/x", NULL},
    {V201, "Heartbeat", 0, HEARTBEAT_REQ, "/customData", "{'vendorId':'v','n':{}}", OK,
     "", NULL},
    {V201, "StatusNotification", 0, STATUS_REQ, "/connectorStatus", "null", TYPE,
     "/connectorStatus", NULL},
    {V201, "StatusNotification", 0, STATUS_REQ, "/evseId", "-1", OK, "", NULL},
    {V21, "StatusNotification", 0, STATUS_REQ, "/evseId", "-1", PROP, "/evseId",
     "-1 is below minimum 0"},
    /* MeterValuesRequest: arrays and nested paths */
    {V201, "MeterValues", 0, MV_REQ, "/meterValue", "[]", OCCUR, "/meterValue",
     "0 items, at least 1"},
    {V201, "MeterValues", 0, MV_REQ, "/meterValue", "{}", TYPE, "/meterValue",
     "expected array, got object"},
    {V201, "MeterValues", 0, MV_REQ, SV "/2/value", "'x'", TYPE, SV "/2/value", NULL},
    {V201, "MeterValues", 0, MV_REQ, SV "/3/location", "'Car'", PROP, SV "/3/location",
     NULL},
    {V201, "MeterValues", 0, MV_REQ, SV "/0/unitOfMeasure/multiplier", "1.5", TYPE,
     SV "/0/unitOfMeasure/multiplier", NULL},
    {V201, "MeterValues", 0, MV_REQ, SV "/0/signedMeterValue", "{'signedMeterData':'x'}",
     OCCUR, SV "/0/signedMeterValue/signingMethod", NULL},
    {V201, "MeterValues", 0, MV_REQ, SV "/1/value", "1e400", TYPE, SV "/1/value",
     "out of range"},
    {V201, "MeterValues", 0, MV_REQ, SV "/1/value", "-1e300", OK, "", NULL},
    {V201, "MeterValues", 0, MV_REQ, SV "/4", "{}", OCCUR, SV "/4/value", NULL},
    {V201, "MeterValues", 0, MV_REQ, "/meterValue/0/timestamp", "5", TYPE,
     "/meterValue/0/timestamp", NULL},
    /* AuthorizeRequest */
    {V201, "Authorize", 0, AUTH_REQ, "/iso15118CertificateHashData", "[{},{},{},{},{}]",
     OCCUR, "/iso15118CertificateHashData", "5 items, at most 4"},
    {V201, "Authorize", 0, AUTH_REQ, "/idToken/additionalInfo", "[]", OCCUR,
     "/idToken/additionalInfo", NULL},
    {V201, "Authorize", 0, AUTH_REQ, "/idToken/idToken", "'" A36 "'", OK, "", NULL},
    {V201, "Authorize", 0, AUTH_REQ, "/idToken/idToken", "'" A36 "x'", PROP,
     "/idToken/idToken", "37 characters, at most 36"},
    {V201, "Authorize", 0, AUTH_REQ, "/idToken/type", "'RFID'", PROP, "/idToken/type",
     "is not one of Central, eMAID, ISO14443"},
    {V201, "Authorize", 0, AUTH_REQ, "/idToken/additionalInfo/0/type", NULL, OCCUR,
     "/idToken/additionalInfo/0/type", NULL},
    /* NotifyEVChargingNeeds 2.0.1: minimum/maximum edges */
    {V201, "NotifyEVChargingNeeds", 0, NEEDS_REQ, "/chargingNeeds/dcChargingParameters",
     "{'evMaxCurrent':1,'evMaxVoltage':1,'stateOfCharge':101}", PROP,
     "/chargingNeeds/dcChargingParameters/stateOfCharge", "101 is above maximum 100"},
    {V201, "NotifyEVChargingNeeds", 0, NEEDS_REQ, "/chargingNeeds/dcChargingParameters",
     "{'evMaxCurrent':1,'evMaxVoltage':1,'stateOfCharge':100,'fullSoC':0}", OK, "", NULL},
    {V201, "NotifyEVChargingNeeds", 0, NEEDS_REQ, "/chargingNeeds/dcChargingParameters",
     "{'evMaxCurrent':1,'evMaxVoltage':1,'bulkSoC':-1}", PROP,
     "/chargingNeeds/dcChargingParameters/bulkSoC", "-1 is below minimum 0"},
    {V201, "NotifyEVChargingNeeds", 0, NEEDS_REQ, "/chargingNeeds/acChargingParameters/x",
     "1", FORMAT, "/chargingNeeds/acChargingParameters/x", NULL},
    {V201, "NotifyEVChargingNeeds", 0, NEEDS_REQ,
     "/chargingNeeds/acChargingParameters/evMinCurrent", NULL, OCCUR,
     "/chargingNeeds/acChargingParameters/evMinCurrent", NULL},
    {V201, "NotifyEVChargingNeeds", 0, NEEDS_REQ,
     "/chargingNeeds/requestedEnergyTransfer", "'DC_BPT'", PROP,
     "/chargingNeeds/requestedEnergyTransfer", NULL},
    /* SetChargingProfileRequest 2.0.1 */
    {V201, "SetChargingProfile", 0, SCP_REQ, SCP_PERIOD "/1/limit", "'7400'", TYPE,
     SCP_PERIOD "/1/limit", NULL},
    {V201, "SetChargingProfile", 0, SCP_REQ, "/chargingProfile/chargingSchedule",
     "[{},{},{},{}]", OCCUR, "/chargingProfile/chargingSchedule", "4 items, at most 3"},
    {V201, "SetChargingProfile", 0, SCP_REQ,
     "/chargingProfile/chargingSchedule/0/salesTariff", TARIFF "1}]}]}]}", OK, "", NULL},
    {V201, "SetChargingProfile", 0, SCP_REQ,
     "/chargingProfile/chargingSchedule/0/salesTariff", TARIFF "'x'}]}]}]}", TYPE,
     TARIFF_PATH, "expected integer, got string"},
    {V201, "SetChargingProfile", 0, SCP_REQ, "/chargingProfile/chargingProfileKind",
     "'Dynamic'", PROP, "/chargingProfile/chargingProfileKind", NULL},
    {V201, "SetChargingProfile", 0, SCP_REQ, "/chargingProfile/validTo",
     "'2026-11-26T17:00:00'", PROP, "/chargingProfile/validTo", NULL},
    {V201, "SetChargingProfile", 0, SCP_REQ, SCP_PERIOD "/0/dischargeLimit", "-1", FORMAT,
     SCP_PERIOD "/0/dischargeLimit", NULL},
    /* 2.1 V2X */
    {V21, "SetChargingProfile", 0, SCP21_REQ, SCP_PERIOD "/0/dischargeLimit", "1", PROP,
     SCP_PERIOD "/0/dischargeLimit", "1 is above maximum 0"},
    {V21, "SetChargingProfile", 0, SCP21_REQ, SCP_PERIOD "/0/dischargeLimit", "0", OK, "",
     NULL},
    {V21, "SetChargingProfile", 0, SCP21_REQ, "/chargingProfile/chargingProfileKind",
     "'Dynamic'", OK, "", NULL},
    {V21, "SetChargingProfile", 0, SCP21_REQ, "/evseId", "-1", PROP, "/evseId", NULL},
    {V21, "SetChargingProfile", 0, SCP21_REQ, SCP_PERIOD "/1/numberPhases", "4", PROP,
     SCP_PERIOD "/1/numberPhases", "4 is above maximum 3"},
    {V21, "SetChargingProfile", 0, SCP21_REQ, SCP_PERIOD "/0/v2xFreqWattCurve", "[]",
     OCCUR, SCP_PERIOD "/0/v2xFreqWattCurve", NULL},
    {V21, "SetChargingProfile", 0, SCP21_REQ, SCP_PERIOD "/0/operationMode",
     "'Discharge'", PROP, SCP_PERIOD "/0/operationMode", NULL},
    {V21, "NotifyEVChargingNeeds", 0, NEEDS21_REQ,
     "/chargingNeeds/v2xChargingParameters/targetSoC", "101", PROP,
     "/chargingNeeds/v2xChargingParameters/targetSoC", NULL},
    {V21, "NotifyEVChargingNeeds", 0, NEEDS21_REQ,
     "/chargingNeeds/availableEnergyTransfer/1", "'DC_X'", PROP,
     "/chargingNeeds/availableEnergyTransfer/1", NULL},
    {V21, "NotifyEVChargingNeeds", 0, NEEDS21_REQ, "/evseId", "0", PROP, "/evseId",
     "0 is below minimum 1"},
    {V21, "NotifyEVChargingNeeds", 0, NEEDS21_REQ,
     "/chargingNeeds/v2xChargingParameters/x", "1", FORMAT,
     "/chargingNeeds/v2xChargingParameters/x", NULL},
    {V21, "NotifyEVChargingNeeds", 0, NEEDS21_REQ, "/chargingNeeds/evEnergyOffer", "{}",
     OCCUR, "/chargingNeeds/evEnergyOffer/evPowerSchedule", NULL},
    /* DataTransfer: data has no type, anything goes */
    {V201, "DataTransfer", 0, DT_REQ, "/data", "null", OK, "", NULL},
    {V201, "DataTransfer", 0, DT_REQ, "/data", "[[[[1]]]]", OK, "", NULL},
    {V201, "DataTransfer", 0, DT_REQ, "/vendorId", NULL, OCCUR, "/vendorId", NULL},
};

/* Apply one mutation to root: navigate the JSON pointer and replace, add or
 * delete the last token. */
static void apply(cJSON *root, const char *ptr, const char *value)
{
    char buf[256], *tok, *save = NULL, *next;
    cJSON *parent = root;
    assert_true(strlen(ptr) < sizeof(buf) && ptr[0] == '/');
    strcpy(buf, ptr + 1);
    tok = strtok_r(buf, "/", &save);
    while ((next = strtok_r(NULL, "/", &save))) {
        if (cJSON_IsArray(parent)) {
            char *end;
            long i = strtol(tok, &end, 10);
            assert_true(*end == '\0' && i >= 0);
            parent = cJSON_GetArrayItem(parent, (int)i);
        } else {
            parent = cJSON_GetObjectItemCaseSensitive(parent, tok);
        }
        assert_non_null(parent);
        tok = next;
    }
    if (cJSON_IsArray(parent)) {
        char *end;
        long i = strtol(tok, &end, 10);
        assert_true(*end == '\0' && i >= 0);
        if (!value)
            cJSON_DeleteItemFromArray(parent, (int)i);
        else if (i == cJSON_GetArraySize(parent))
            cJSON_AddItemToArray(parent, parse_sq(value));
        else
            assert_true(cJSON_ReplaceItemInArray(parent, (int)i, parse_sq(value)));
    } else {
        if (!value) {
            assert_non_null(cJSON_GetObjectItemCaseSensitive(parent, tok));
            cJSON_DeleteItemFromObjectCaseSensitive(parent, tok);
        } else if (cJSON_GetObjectItemCaseSensitive(parent, tok)) {
            assert_true(
                cJSON_ReplaceItemInObjectCaseSensitive(parent, tok, parse_sq(value)));
        } else {
            cJSON_AddItemToObject(parent, tok, parse_sq(value));
        }
    }
}

static void test_mutations(void **state)
{
    (void)state;
    size_t n = sizeof(mutations) / sizeof(mutations[0]), bad = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mutation *m = &mutations[i];
        struct fg_ocpp_verror e;
        cJSON *j = parse_sq(m->base);
        int rc;
        if (m->ptr)
            apply(j, m->ptr, m->value);
        rc = fg_ocpp_validate(find(m->v, m->action, m->response), j, &e);
        if (e.code != m->code || strcmp(e.path, m->path) ||
            (m->desc && !strstr(e.desc, m->desc)) || (rc == 0) != (m->code == OK)) {
            print_error("mutation %zu (%s %s %s): got %s at \"%s\": %s\n", i, m->action,
                        m->ptr ? m->ptr : "", m->value ? m->value : "(delete)",
                        fg_ocpp_errcode_name(e.code), e.path, e.desc);
            bad++;
        }
        assert_true(rc == 0 || rc == FG_EINVAL);
        assert_true(strlen(e.desc) < sizeof(e.desc) && valid_utf8(e.desc));
        assert_true(valid_utf8(e.path));
        cJSON_Delete(j);
    }
    assert_int_equal(bad, 0);
    assert_true(n >= 60);
}

static void test_descriptions_bounded(void **state)
{
    (void)state;
    char big[3000];
    struct fg_ocpp_verror e;
    cJSON *j = cJSON_CreateObject();
    /* A long, multibyte, control-character key: path and desc stay valid UTF-8. */
    size_t n = 0;
    while (n + 4 < sizeof(big)) {
        memcpy(big + n, n % 8 ? "\xe2\x82\xac" : "\x01", n % 8 ? 3 : 1);
        n += n % 8 ? 3 : 1;
    }
    big[n] = '\0';
    cJSON_AddNumberToObject(j, big, 1);
    assert_int_equal(fg_ocpp_validate(find(V201, "Heartbeat", 0), j, &e), FG_EINVAL);
    assert_int_equal(e.code, FORMAT);
    assert_true(valid_utf8(e.path) && valid_utf8(e.desc));
    assert_true(strstr(e.desc, "...") != NULL);
    cJSON_Delete(j);
    /* The long enum list is cut. */
    j = parse_sq(MV_REQ);
    apply(j, SV "/0/measurand", "'Power'");
    assert_int_equal(fg_ocpp_validate(find(V201, "MeterValues", 0), j, &e), FG_EINVAL);
    assert_int_equal(e.code, PROP);
    assert_non_null(strstr(e.desc, "is not one of Current.Export, Current.Import"));
    assert_non_null(strstr(e.desc, "..."));
    assert_true(strlen(e.desc) < 200);
    cJSON_Delete(j);
    /* err may be NULL; NULL schema is NotImplemented; NULL payload FormatViolation. */
    assert_int_equal(fg_ocpp_validate(find(V201, "Heartbeat", 0), NULL, NULL), FG_EINVAL);
    assert_int_equal(fg_ocpp_validate(NULL, NULL, &e), FG_EINVAL);
    assert_int_equal(e.code, FG_OCPP_NOT_IMPLEMENTED);
    assert_int_equal(fg_ocpp_validate(find(V201, "Heartbeat", 0), NULL, &e), FG_EINVAL);
    assert_int_equal(e.code, FORMAT);
}

static void test_find(void **state)
{
    (void)state;
    assert_null(fg_ocpp_schema_find(V201, "Bootnotification", 0));
    assert_null(fg_ocpp_schema_find(V201, "", 0));
    assert_null(fg_ocpp_schema_find(V201, NULL, 0));
    assert_null(fg_ocpp_schema_find(V201, "NotifyDERAlarm", 0)); /* 2.1 only */
    assert_non_null(fg_ocpp_schema_find(V21, "NotifyDERAlarm", 0));
    assert_non_null(fg_ocpp_schema_find(V21, "NotifyPeriodicEventStream", 0));
    assert_null(fg_ocpp_schema_find(V21, "NotifyPeriodicEventStream", 1));
    assert_null(fg_ocpp_schema_find((enum fg_ocpp_version)7, "Heartbeat", 0));
    assert_string_equal(fg_ocpp_schema_name(find(V21, "Heartbeat", 1)),
                        "HeartbeatResponse");
    assert_string_equal(fg_ocpp_schema_name(NULL), "");
    assert_null(fg_ocpp_schema_action(V201, fg_ocpp_schema_count(V201)));
    for (int v = V201; v <= V21; v++) {
        size_t n = fg_ocpp_schema_count((enum fg_ocpp_version)v);
        for (size_t i = 1; i < n; i++)
            assert_true(strcmp(fg_ocpp_schema_action((enum fg_ocpp_version)v, i - 1),
                               fg_ocpp_schema_action((enum fg_ocpp_version)v, i)) < 0);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* For every schema file: an entry exists under its name, and {} is valid
 * exactly when nothing is required, else names the first required property. */
static void check_dir(enum fg_ocpp_version v, const char *ver)
{
    char dir[512], path[1024], action[128];
    size_t files = 0, actions = 0;
    struct dirent *d;
    DIR *dp;
    cJSON *empty = cJSON_CreateObject();
    snprintf(dir, sizeof(dir), "%s/protocols/ocpp/schemas/%s", FG_SOURCE_DIR, ver);
    dp = opendir(dir);
    assert_non_null(dp);
    while ((d = readdir(dp))) {
        size_t len = strlen(d->d_name);
        int response = 0;
        struct fg_ocpp_verror e;
        const struct fg_ocpp_msg_schema *s;
        if (len < 6 || strcmp(d->d_name + len - 5, ".json"))
            continue;
        files++;
        len -= 5;
        assert_true(len < sizeof(action));
        memcpy(action, d->d_name, len);
        action[len] = '\0';
        if (len > 8 && !strcmp(action + len - 8, "Response")) {
            response = 1;
            action[len - 8] = '\0';
        } else if (len > 7 && !strcmp(action + len - 7, "Request")) {
            action[len - 7] = '\0';
            actions++;
        } else {
            actions++; /* SEND message without a response */
        }
        s = find(v, action, response);
        assert_true(strncmp(fg_ocpp_schema_name(s), d->d_name, len) == 0);

        snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
        char *text = slurp(path);
        const char *json = strncmp(text, "\xef\xbb\xbf", 3) ? text : text + 3;
        cJSON *schema = cJSON_Parse(json);
        assert_non_null(schema);
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
        int rc = fg_ocpp_validate(s, empty, &e);
        if (cJSON_GetArraySize(req) == 0) {
            if (rc)
                fail_msg("%s: {} rejected: %s", d->d_name, e.desc);
        } else {
            char want[200];
            snprintf(want, sizeof(want), "/%s", cJSON_GetArrayItem(req, 0)->valuestring);
            assert_int_equal(rc, FG_EINVAL);
            assert_int_equal(e.code, OCCUR);
            if (strcmp(e.path, want))
                fail_msg("%s: {} gives %s, expected %s", d->d_name, e.path, want);
        }
        cJSON_Delete(schema);
        free(text);
    }
    closedir(dp);
    cJSON_Delete(empty);
    assert_int_equal(files, v == V201 ? 128 : 181);
    assert_int_equal(actions, fg_ocpp_schema_count(v));
}

static void test_every_schema_file(void **state)
{
    (void)state;
    check_dir(V201, "2.0.1");
    check_dir(V21, "2.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_payloads),       cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_descriptions_bounded), cmocka_unit_test(test_find),
        cmocka_unit_test(test_every_schema_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
